/*
 * test_http_status.c -- every status the http module sends has its
 * RFC 9110 reason phrase.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "modules/http/reason.h"

/* Every status the module can emit, from its code: 200, 206, 304 and 416
 * (send.c: files and ranges), 200 and 503 (root.c: the health path), 301,
 * 403, 404, 405, 414 and 500 (root.c, path.c, autoindex.c), 400, 414, 431,
 * 501 and 505 (request.c and path.c, negated), 400 and 413 (chunked.c,
 * http.c), 408 (http.c). */
static const struct {
    int         status;
    const char *reason;
} emitted[] = {
    {200, "OK"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {416, "Range Not Satisfiable"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

Test(http_status, every_emitted_status_has_its_rfc9110_phrase)
{
    size_t i;

    for (i = 0; i < sizeof(emitted) / sizeof(emitted[0]); i++)
        cr_expect_str_eq(http_reason(emitted[i].status), emitted[i].reason,
                         "status %d", emitted[i].status);
}

Test(http_status, an_unknown_status_says_so)
{
    cr_assert_str_eq(http_reason(299), "Unknown");
}
