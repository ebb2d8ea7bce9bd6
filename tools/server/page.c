/* page.c - GET / (page.html) and the page's script and style, from the binary. */
#include <string.h>

#include "page.h"
#include "server.h"

static const char *type_of(const char *name) {
    const char *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (dot && !strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    return "text/html; charset=utf-8";
}

enum MHD_Result handle_page(http_req *r, const char *url) {
    const char *name = !strcmp(url, "/") ? "page.html" : url + 1;
    for (size_t i = 0; i < page_asset_count; i++)
        if (!strcmp(page_assets[i].name, name))
            return reply_bytes(r, 200, type_of(name), page_assets[i].data, page_assets[i].len, 1);
    api_error e;
    api_fail(&e, 404, "invalid_request_error", "not_found", NULL, "no page %.200s", url);
    return reply_error(r, &e);
}
