/* page.h - the live page's files, embedded at build time (embed.py writes page_assets.c). */
#ifndef SERVER_PAGE_H
#define SERVER_PAGE_H

#include <stddef.h>

typedef struct page_asset {
    const char *name;          /* "page.html", "page.js", "page.css" */
    const unsigned char *data;
    size_t len;
} page_asset;

extern const page_asset page_assets[];
extern const size_t page_asset_count;

#endif
