"""hmcnn: the command line of hm-cnn-loop, on top of every package (see cli.py)."""
