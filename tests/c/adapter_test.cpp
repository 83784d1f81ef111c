// Unit test of cpp/hm/hmcnn_hm_adapter.{h,cpp}, HM-agnostic: Pel planes of int16 and
// int32, 8- and 10-bit, luma and chroma depths differing. The filter is the test plug-in
// (plus_one_filter.c): +1 on every sample at the picture's bit depth, its side information
// (POC, QP, slice type) checked on the decoder side. Prints one line per case; exit 0 = ok.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "hmcnn_hm_adapter.h"

using hmcnn_hm::PelPlane;
using hmcnn_hm::PictureFacts;

static int failures = 0;

static void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) failures++;
}

template <class Pel>
struct Picture {
    int w, h;
    std::vector<Pel> y, u, v;
    Picture(int w_, int h_, int luma_max, int chroma_max) : w(w_), h(h_), y(w * h), u(w * h / 4), v(w * h / 4) {
        for (int i = 0; i < w * h; i++) y[i] = (Pel)((i * 7) % (luma_max + 1));
        for (int i = 0; i < w * h / 4; i++) u[i] = (Pel)((i * 5) % (chroma_max + 1)), v[i] = (Pel)((i * 3 + 1) % (chroma_max + 1));
    }
    void planes(PelPlane<Pel> out[3]) {
        PelPlane<Pel> a = {&y[0], w, w, h}, b = {&u[0], w / 2, w / 2, h / 2}, c = {&v[0], w / 2, w / 2, h / 2};
        out[0] = a, out[1] = b, out[2] = c;
    }
};

// What +1 at the staging depth becomes in a plane of `depth` after the round trip.
static int expect(int x, int depth, int staging) {
    int s = staging - depth, max = (1 << depth) - 1;
    int v = (((x << s) + 1) + (s ? 1 << (s - 1) : 0)) >> s;
    return v > max ? max : v;
}

template <class Pel>
static void round_trip(const hmcnn_filter* f, int luma_depth, int chroma_depth) {
    const int w = 16, h = 8;
    Picture<Pel> enc(w, h, (1 << luma_depth) - 1, (1 << chroma_depth) - 1), dec = enc, src = enc;
    PelPlane<Pel> rec[3], drec[3], orig_m[3];
    enc.planes(rec);
    dec.planes(drec);
    src.planes(orig_m);
    PelPlane<const Pel> org[3];
    for (int c = 0; c < 3; c++) {
        PelPlane<const Pel> p = {orig_m[c].data, orig_m[c].stride, orig_m[c].width, orig_m[c].height};
        org[c] = p;
    }
    PictureFacts facts = {3, 32, 1, 0, 64, 1, luma_depth, chroma_depth};
    std::vector<uint8_t> side;
    std::string error;
    std::string name = std::string(sizeof(Pel) == 2 ? "int16" : "int32") + " Pel, luma " +
                       std::to_string(luma_depth) + " bit, chroma " + std::to_string(chroma_depth) + " bit";
    int rc = hmcnn_hm::filter_encoder_side(f, rec, org, facts, &side, &error);
    check(rc == 0 && side.size() == 3 && side[0] == 3 && side[1] == 32 && side[2] == 1, name + ": encoder side, side info");
    rc = hmcnn_hm::filter_decoder_side(f, drec, facts, side.data(), side.size(), &error);
    check(rc == 0 && enc.y == dec.y && enc.u == dec.u && enc.v == dec.v, name + ": decoder output == encoder recon");
    int staging = luma_depth > chroma_depth ? luma_depth : chroma_depth;
    bool exact = true;
    for (int i = 0; i < w * h; i++) exact &= enc.y[i] == expect(src.y[i], luma_depth, staging);
    for (int i = 0; i < w * h / 4; i++)
        exact &= enc.u[i] == expect(src.u[i], chroma_depth, staging) && enc.v[i] == expect(src.v[i], chroma_depth, staging);
    check(exact, name + ": samples as the filter left them, back at each plane's depth");
    // wrong side information: the filter's own message comes back
    uint8_t bad[3] = {9, 9, 9};
    rc = hmcnn_hm::filter_decoder_side(f, drec, facts, bad, 3, &error);
    check(rc != 0 && error.find("decoder-side loop filter failed on POC 3: plus-one filter: side information") != std::string::npos,
          name + ": a filter error carries the filter's message");
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: adapter_test LIB.so\n");
        return 2;
    }
    hmcnn_hm::Plugin plugin(argv[1]);
    round_trip<int16_t>(plugin.table(), 8, 8);
    round_trip<int32_t>(plugin.table(), 8, 8);
    round_trip<int16_t>(plugin.table(), 10, 10);
    round_trip<int32_t>(plugin.table(), 10, 10);
    round_trip<int16_t>(plugin.table(), 8, 10);
    round_trip<int32_t>(plugin.table(), 10, 8);
    const char* bad_specs[] = {"/nonexistent/lib.so", "/nonexistent/lib.so:x=1"};
    for (const char* spec : bad_specs) {
        try {
            hmcnn_hm::Plugin p(spec);
            check(false, std::string("refuses ") + spec);
        } catch (const std::runtime_error& e) {
            check(std::string(e.what()).find("cannot load filter library") != std::string::npos,
                  std::string("refuses ") + spec + " (" + e.what() + ")");
        }
    }
    std::string refused = std::string(argv[1]) + ":fail=1";
    try {
        hmcnn_hm::Plugin p(refused);
        check(false, "refuses options the filter refuses");
    } catch (const std::runtime_error& e) {
        check(std::string(e.what()).find("refused the options") != std::string::npos, "refuses options the filter refuses");
    }
    return failures ? 1 : 0;
}
