// The one way our C++ filters fill the C ABI table (inloop_filter.h).
//
// A filter class provides
//     int encode_picture(const hmcnn_picture*, uint8_t* side_info, size_t capacity, size_t* size);
//     int decode_picture(const hmcnn_picture*, const uint8_t* side_info, size_t size);
//     const char* last_error();
// and make_filter_table(this) returns the table that codecs call, with `self` = the object.
#pragma once
#include "inloop_filter.h"

namespace hmcnn {

template <class Filter>
hmcnn_filter make_filter_table(Filter* filter) {
    hmcnn_filter table{};
    table.abi_version = HMCNN_FILTER_ABI_VERSION;
    table.self = filter;
    table.encode_picture = [](void* self, const hmcnn_picture* pic, uint8_t* side_info, size_t capacity,
                              size_t* size) {
        return static_cast<Filter*>(self)->encode_picture(pic, side_info, capacity, size);
    };
    table.decode_picture = [](void* self, const hmcnn_picture* pic, const uint8_t* side_info, size_t size) {
        return static_cast<Filter*>(self)->decode_picture(pic, side_info, size);
    };
    table.last_error = [](void* self) { return static_cast<Filter*>(self)->last_error(); };
    return table;
}

}  // namespace hmcnn
