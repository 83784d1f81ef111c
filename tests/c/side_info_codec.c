/* The C side of the side-information layout (inloop_side_info.h), for the test that holds
 * it to the Python mirror. Per input line
 *
 *   WIDTH HEIGHT LOG2 MODEL FRAME_ON CB CR HASH(-1: none) MAP(0/1 per block, or -)
 *
 * it prints the written bytes in hex, then the fields read back from them:
 *
 *   HEX MODEL FRAME_ON LOG2 CB CR HASH MAP
 *
 * (or "error" where writing or reading fails).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inloop_side_info.h"

static char line[1 << 20], map_text[1 << 20];
static uint8_t bytes[1 << 17], on[1 << 17];

int main(void) {
    while (fgets(line, sizeof line, stdin)) {
        hmcnn_side_info info;
        memset(&info, 0, sizeof info);
        int w, h, hash;
        if (sscanf(line, "%d %d %d %d %d %d %d %d %s", &w, &h, &info.log2_block, &info.model_id, &info.frame_on,
                   &info.cb_on, &info.cr_on, &hash, map_text) != 9)
            return 2;
        info.has_hash = hash >= 0;
        info.model_hash = hash >= 0 ? hash : 0;
        int n = hmcnn_side_info_blocks(w, h, info.log2_block, &info.blocks_x, &info.blocks_y);
        int has_map = map_text[0] != '-';
        for (int i = 0; i < n; i++) on[i] = has_map ? map_text[i] == '1' : 1;
        size_t size = hmcnn_side_info_write(&info, has_map ? on : NULL, bytes, sizeof bytes);
        if (!size || size != hmcnn_side_info_size(&info, has_map ? on : NULL)) {
            printf("error\n");
            continue;
        }
        for (size_t i = 0; i < size; i++) printf("%02x", bytes[i]);
        hmcnn_side_info got;
        memset(on, 0, (size_t)n);
        if (hmcnn_side_info_read(bytes, size, w, h, &got, on, sizeof on) != 0) {
            printf(" error\n");
            continue;
        }
        printf(" %d %d %d %d %d %d ", got.model_id, got.frame_on, got.log2_block, got.cb_on, got.cr_on,
               got.has_hash ? got.model_hash : -1);
        int m = got.blocks_x * got.blocks_y;
        for (int i = 0; i < m; i++) putchar(got.frame_on ? '0' + on[i] : '-');
        printf("%s\n", m ? "" : "-");
    }
    return 0;
}
