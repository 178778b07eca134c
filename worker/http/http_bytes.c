/* http_bytes.c - the byte-class table of http_bytes.h. */
#include "http_bytes.h"

#define V HB_VCHAR
#define VG (HB_VCHAR | HB_TARGET)
#define VGH (HB_VCHAR | HB_TARGET | HB_HOST)
#define TV (HB_TCHAR | HB_VCHAR)
#define TVG (HB_TCHAR | HB_VCHAR | HB_TARGET)
#define TVGH (HB_TCHAR | HB_VCHAR | HB_TARGET | HB_HOST)

/* clang-format off */
const unsigned char http_bytes[256] = {
    ['\t'] = V,
    [' '] = V,
    ['!'] = TVGH,
    ['"'] = VG,
    ['#'] = TV,
    ['$'] = TVGH,
    ['%'] = TVGH,
    ['&'] = TVGH,
    ['\''] = TVGH,
    ['('] = VGH,
    [')'] = VGH,
    ['*'] = TVGH,
    ['+'] = TVGH,
    [','] = VGH,
    ['-'] = TVGH,
    ['.'] = TVGH,
    ['/'] = VG,
    ['0' ... '9'] = TVGH | HB_HEX,
    [':'] = VGH,
    [';'] = VGH,
    ['<'] = VG,
    ['='] = VGH,
    ['>'] = VG,
    ['?'] = VG,
    ['@'] = VG,
    ['A' ... 'F'] = TVGH | HB_HEX,
    ['G' ... 'Z'] = TVGH,
    ['['] = VGH,
    ['\\'] = VG,
    [']'] = VGH,
    ['^'] = TVG,
    ['_'] = TVGH,
    ['`'] = TVG,
    ['a' ... 'f'] = TVGH | HB_HEX,
    ['g' ... 'z'] = TVGH,
    ['{'] = VG,
    ['|'] = TVG,
    ['}'] = VG,
    ['~'] = TVGH,
    [0x80 ... 0xff] = V,
};
/* clang-format on */
