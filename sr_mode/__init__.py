"""The super-resolution coding mode (an application on top of cnn_filter and hm_bridge):
the picture is halved, coded with HEVC intra, and restored by a per-QP SR network on top
of an upsampler the encoder picks by RDO.

    sr_mode.container   the file format (content stream + model stream)
    sr_mode.resample    x2 down/upsampling
    sr_mode.codec       sr_encode / sr_decode, SRModels (the per-QP networks)
    sr_mode.train       training of the mode's networks and of the SRCNN/autoencoder study
    sr_mode.cli         hmcnn sr-encode / sr-decode / sr-train
"""
