// Block on/off maps as our filters signal them (side-information layout 2,
// inloop_side_info.h): read in one pass, written once, applied block by block.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "inloop_filter.h"
#include "inloop_side_info.h"

namespace hmcnn {

struct BlockMap {
    hmcnn_side_info info{};   // model id, frame flag, block size, grid
    std::vector<uint8_t> on;  // one 0/1 byte per block, raster order

    int block_size() const { return 1 << info.log2_block; }
};

// An empty map (every block on) for a width x height picture.
inline BlockMap make_block_map(int width, int height, int log2_block, int model_id) {
    BlockMap m;
    m.info.model_id = model_id;
    m.info.log2_block = log2_block;
    int n = hmcnn_side_info_blocks(width, height, log2_block, &m.info.blocks_x, &m.info.blocks_y);
    m.on.assign((size_t)n, 1);
    return m;
}

// Parses side information of a width x height picture in one pass; false if malformed.
inline bool read_block_map(const uint8_t* data, size_t size, int width, int height, BlockMap* out) {
    if (hmcnn_side_info_read(data, size, width, height, &out->info, nullptr, 0) != 0) return false;  // the grid
    out->on.resize((size_t)out->info.blocks_x * out->info.blocks_y);
    return hmcnn_side_info_read(data, size, width, height, &out->info, out->on.data(), out->on.size()) == 0;
}

// Bytes the map's side information takes (what the encoder's D + lambda * R prices).
inline size_t block_map_bytes(const BlockMap& map) { return hmcnn_side_info_size(&map.info, map.on.data()); }

// Writes the map as side information; returns the byte count (0: does not fit).
inline size_t write_block_map(const BlockMap& map, uint8_t* out, size_t capacity) {
    return hmcnn_side_info_write(&map.info, map.on.data(), out, capacity);
}

// What a filter applies on the decoder side: in a loop, the signalled map (false: nothing
// signalled, leave the picture); as a post-filter (no side information), every block and,
// for filters of all three planes, both chroma planes. Throws on malformed side info.
inline bool decoder_block_map(const hmcnn_picture* pic, const uint8_t* side_info, size_t size, int log2_block,
                              int model_id, bool chroma, BlockMap* map, const char* who) {
    *map = make_block_map(pic->width, pic->height, log2_block, model_id);
    if (hmcnn_placement_of(pic) == HMCNN_PLACEMENT_POST) {
        map->info.frame_on = 1;
        map->info.cb_on = map->info.cr_on = chroma;
        return true;
    }
    if (size == 0) return false;
    if (!read_block_map(side_info, size, pic->width, pic->height, map))
        throw std::runtime_error(std::string(who) + ": malformed side information");
    return map->info.frame_on || map->info.cb_on || map->info.cr_on;
}

// Throws unless the map's model is one of the `models` a decoder holds.
inline void check_model_id(const BlockMap& map, size_t models, const char* who) {
    if (map.info.model_id >= 0 && (size_t)map.info.model_id < models) return;
    throw std::runtime_error(std::string(who) + ": the stream names model " + std::to_string(map.info.model_id) +
                             " but only " + std::to_string(models) + " are loaded");
}

// Calls fn(x0, y0, x1, y1) for every block of the map that is on.
template <class Fn>
void for_each_on_block(const BlockMap& map, int width, int height, Fn fn) {
    int s = map.block_size();
    for (int by = 0; by < map.info.blocks_y; by++)
        for (int bx = 0; bx < map.info.blocks_x; bx++)
            if (map.on[(size_t)by * map.info.blocks_x + bx]) {
                int x0 = bx * s, y0 = by * s;
                fn(x0, y0, std::min(x0 + s, width), std::min(y0 + s, height));
            }
}

// Copies the blocks that are on from a packed (width-strided) plane into dst.
template <class Sample>
void copy_on_blocks(Sample* dst, ptrdiff_t stride, const std::vector<Sample>& src, int width, int height,
                    const BlockMap& map) {
    for_each_on_block(map, width, height, [&](int x0, int y0, int x1, int y1) {
        for (int y = y0; y < y1; y++)
            std::memcpy(dst + y * stride + x0, &src[(size_t)y * width + x0], (size_t)(x1 - x0) * sizeof(Sample));
    });
}

// Writes filtered planes (packed; uint8_t samples for 8-bit pictures, uint16_t above)
// into the picture as the map says: the luma blocks that are on, if luma is on; each
// chroma plane whose flag is set, whole.
template <class Sample>
void apply_block_map(const hmcnn_picture* pic, const std::vector<Sample>& y, const std::vector<Sample>& u,
                     const std::vector<Sample>& v, const BlockMap& map) {
    if (map.info.frame_on) copy_on_blocks((Sample*)pic->plane[0], pic->stride[0], y, pic->width, pic->height, map);
    const int cw = pic->width / 2, ch = pic->height / 2;
    const std::vector<Sample>* chroma[2] = {&u, &v};
    const int on[2] = {map.info.cb_on, map.info.cr_on};
    for (int c = 0; c < 2; c++) {
        if (!on[c]) continue;
        Sample* dst = (Sample*)pic->plane[1 + c];
        for (int r = 0; r < ch; r++)
            std::memcpy(dst + r * pic->stride[1 + c], &(*chroma[c])[(size_t)r * cw], cw * sizeof(Sample));
    }
}

}  // namespace hmcnn
