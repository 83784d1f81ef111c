/* Loads a filter plug-in with dlopen (no Python, no link to it) and applies it to one
 * 8-bit 4:2:0 picture as a post-filter (every sample), the way any C codec would:
 *
 *   plugin_apply LIB.so OPTIONS WIDTH HEIGHT QP in.yuv out.yuv
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inloop_filter.h"

int main(int argc, char** argv) {
    if (argc != 8) { fprintf(stderr, "usage: plugin_apply LIB.so OPTIONS WIDTH HEIGHT QP in.yuv out.yuv\n"); return 2; }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    hmcnn_filter_open_fn open_fn;
    *(void**)&open_fn = dlsym(lib, HMCNN_FILTER_OPEN_SYMBOL);
    if (!open_fn) { fprintf(stderr, "no %s\n", HMCNN_FILTER_OPEN_SYMBOL); return 1; }
    const hmcnn_filter* f = open_fn(argv[2]);
    if (!f || f->abi_version != HMCNN_FILTER_ABI_VERSION) { fprintf(stderr, "open refused\n"); return 1; }
    int w = atoi(argv[3]), h = atoi(argv[4]);
    size_t n = (size_t)w * h * 3 / 2;
    unsigned char* buf = malloc(n);
    FILE* in = fopen(argv[6], "rb");
    if (!in || fread(buf, 1, n, in) != n) { fprintf(stderr, "cannot read %s\n", argv[6]); return 1; }
    fclose(in);
    hmcnn_picture pic;
    memset(&pic, 0, sizeof(pic));
    pic.struct_size = sizeof(pic);
    pic.width = w, pic.height = h, pic.chroma_format = 1, pic.bit_depth = 8;
    pic.plane[0] = buf, pic.plane[1] = buf + (size_t)w * h, pic.plane[2] = buf + (size_t)w * h * 5 / 4;
    pic.stride[0] = w, pic.stride[1] = pic.stride[2] = w / 2;
    pic.slice_qp = atoi(argv[5]), pic.slice_type = HMCNN_SLICE_I, pic.ctu_size = 64;
    pic.placement = HMCNN_PLACEMENT_POST;
    if (f->decode_picture(f->self, &pic, NULL, 0) != 0) {
        fprintf(stderr, "filter failed: %s\n", f->last_error ? f->last_error(f->self) : "?");
        return 1;
    }
    FILE* out = fopen(argv[7], "wb");
    fwrite(buf, 1, n, out);
    fclose(out);
    hmcnn_filter_close_fn close_fn;
    *(void**)&close_fn = dlsym(lib, HMCNN_FILTER_CLOSE_SYMBOL);
    if (close_fn) close_fn(f);
    free(buf);
    return 0;
}
