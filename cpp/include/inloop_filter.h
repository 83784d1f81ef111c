/*
 * hm-cnn-loop in-loop filter ABI, version 1.
 *
 * The one seam between codecs and filters. A codec (our patched x265 and libde265,
 * or a user's HM build) calls a filter once per picture, after deblocking and SAO,
 * before the picture is used for prediction or output. The filter modifies the
 * picture's planes in place; the modified picture is what the decoded picture
 * buffer holds, what the picture hash covers, and what is output.
 *
 * Side information: on the encoder side the filter may return a few bytes per
 * picture (its decisions: model id, frame and block on/off flags). The codec carries
 * them in a NAL unit of its own after the picture's slices (HMCNN_SIDE_INFO_NAL_TYPE,
 * below) and hands exactly those bytes to the decoder-side filter. Codecs treat the
 * bytes as opaque; inloop_side_info.h defines the layout our filters use.
 *
 * Plain C, no allocation across the boundary, no ownership transfer: the codec never
 * frees a filter. Filters must be reentrant: an encoder with frame threads calls
 * encode_picture concurrently, from worker threads, in no particular order.
 */
#ifndef HMCNN_INLOOP_FILTER_H
#define HMCNN_INLOOP_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HMCNN_FILTER_ABI_VERSION 1

/* Largest side-information payload a codec must accept per picture. */
#define HMCNN_MAX_SIDE_INFO 65536

/* The NAL unit carrying a picture's side information: nal_unit_type 56, one of the types
 * HEVC leaves unspecified (UNSPEC56..63: suffix position, after the picture's first slice;
 * decoders that do not know it ignore it). Its RBSP is the side-information bytes followed
 * by rbsp_trailing_bits (0x80); TemporalId as the codec's suffix SEIs. At most one per
 * picture, none when the filter sends nothing. It costs HMCNN_SIDE_INFO_NAL_OVERHEAD bytes
 * beyond the side information (start code 3, NAL header 2, trailing bits 1), where a
 * user_data_unregistered SEI costs 24 (its UUID alone 16). */
#define HMCNN_SIDE_INFO_NAL_TYPE 56
#define HMCNN_SIDE_INFO_NAL_OVERHEAD 6

/* The side information in such a NAL unit's RBSP (after the 2-byte NAL header, emulation
 * prevention bytes removed): *size = the bytes before rbsp_trailing_bits (trailing zero
 * bytes tolerated). Returns 0, or -1 if the stop bit is missing (a corrupt unit). */
static inline int hmcnn_side_info_in_rbsp(const uint8_t* rbsp, size_t n, size_t* size)
{
    while (n > 0 && rbsp[n - 1] == 0)
        n--;
    if (n == 0 || rbsp[n - 1] != 0x80)
        return -1;
    *size = n - 1;
    return 0;
}

/* HEVC slice_type values. */
enum hmcnn_slice_type { HMCNN_SLICE_B = 0, HMCNN_SLICE_P = 1, HMCNN_SLICE_I = 2 };

/* Where a call comes from (hmcnn_picture.placement). */
enum hmcnn_placement {
    HMCNN_PLACEMENT_LOOP = 0, /* inside a codec's loop: side information as signalled */
    HMCNN_PLACEMENT_POST = 1  /* on decoded output, outside any loop: decode_picture with no side
                                 information; filter the whole picture as the filter would by default,
                                 or fail with a message if the filter needs side information */
};

/* One picture, as the codec hands it to the filter. */
typedef struct hmcnn_picture {
    uint32_t    struct_size;     /* sizeof(hmcnn_picture) as built by the codec */
    int32_t     width, height;   /* coded luma size in samples */
    int32_t     chroma_format;   /* 0 = 4:0:0, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4 */
    int32_t     bit_depth;       /* 8: samples are uint8_t; 9..16: uint16_t */
    void*       plane[3];        /* Y, Cb, Cr in the decoded picture buffer: write here */
    ptrdiff_t   stride[3];       /* in samples */
    const void* orig[3];         /* encoder: the source picture; decoder: NULL */
    ptrdiff_t   orig_stride[3];  /* in samples */
    int32_t     poc;             /* picture order count relative to the last IDR */
    int32_t     slice_qp;        /* SliceQpY of the picture's first slice */
    int32_t     slice_type;      /* enum hmcnn_slice_type of the first slice */
    int32_t     temporal_id;     /* nuh_temporal_id */
    int32_t     ctu_size;        /* CtbSizeY */
    int32_t     is_encoder;      /* 1 in the encoder's loop, 0 in the decoder's */
    /* Added within version 1: read only if struct_size > offsetof(hmcnn_picture, placement)
     * (hmcnn_placement_of() does this); codecs built before it called in the loop. */
    int32_t     placement;       /* enum hmcnn_placement */
} hmcnn_picture;

/* The call's placement, for pictures from codecs built with or without the field. */
static inline int hmcnn_placement_of(const hmcnn_picture* pic)
{
    return pic->struct_size > offsetof(hmcnn_picture, placement) ? pic->placement : HMCNN_PLACEMENT_LOOP;
}

/* A filter: a table of functions and the pointer they get back. */
typedef struct hmcnn_filter {
    uint32_t abi_version;        /* HMCNN_FILTER_ABI_VERSION */
    void*    self;

    /* Encoder side. Filter pic in place (pic->orig holds the source picture, so the
     * filter can decide by distortion). Write at most side_info_capacity bytes of
     * side information to side_info and their count to *side_info_size (0: none).
     * Return 0 on success. Non-zero aborts the encode; last_error() says why. */
    int (*encode_picture)(void* self, const hmcnn_picture* pic,
                          uint8_t* side_info, size_t side_info_capacity,
                          size_t* side_info_size);

    /* Decoder side. Apply exactly what side_info says (side_info_size == 0: no side
     * information arrived with this picture). Return 0 on success, non-zero on
     * error (the decoder reports a decoding error). */
    int (*decode_picture)(void* self, const hmcnn_picture* pic,
                          const uint8_t* side_info, size_t side_info_size);

    /* Optional: a message for the last failure on this thread, or NULL. */
    const char* (*last_error)(void* self);
} hmcnn_filter;

/*
 * A filter in a shared library (a plug-in any codec can dlopen: hm_bridge's
 * load_native_filter, or an HM build) exports:
 *
 *   const hmcnn_filter* hmcnn_filter_open(const char* options);   required
 *   void hmcnn_filter_close(const hmcnn_filter* filter);           optional
 *
 * `options` is the filter's own text (may be NULL). open returns NULL on bad options;
 * the table stays valid until close (or for the library's lifetime without close).
 * Example: cpp/examples/band_offset_filter.c.
 */
#define HMCNN_FILTER_OPEN_SYMBOL "hmcnn_filter_open"
#define HMCNN_FILTER_CLOSE_SYMBOL "hmcnn_filter_close"
typedef const hmcnn_filter* (*hmcnn_filter_open_fn)(const char* options);
typedef void (*hmcnn_filter_close_fn)(const hmcnn_filter* filter);
/* Optional (added within version 1): why the last hmcnn_filter_open() in this thread
 * returned NULL, e.g. "unknown option 'device' (this plug-in takes: models, kernel, ...)".
 * Loaders call it when present and show its text; "" when there is nothing to say. */
#define HMCNN_FILTER_OPEN_ERROR_SYMBOL "hmcnn_filter_open_error"
typedef const char* (*hmcnn_filter_open_error_fn)(void);

/*
 * Between Python extensions a filter table crosses as a PyCapsule of this name holding
 * a `const hmcnn_filter*`: any object whose __hmcnn_filter__() returns such a capsule
 * is a native loop filter for hm_bridge.encode/decode.
 */
#define HMCNN_FILTER_CAPSULE_NAME "hmcnn_filter"

#ifdef __cplusplus
}
#endif
#endif /* HMCNN_INLOOP_FILTER_H */
