/*
 * reason.c -- the reason phrases of the status codes the http module sends.
 *
 * Apart from response.c, which needs the host's I/O, so that a unit test
 * can check every status the module emits against RFC 9110.
 */
#include <stddef.h>

#include "reason.h"

/* Every status the module can send, with its phrase from RFC 9110 15.
 * A status added to the module belongs here and in test_http_status.c. */
static const struct {
    int         status;
    const char *reason;
} reasons[] = {
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

const char *http_reason(int status)
{
    size_t i;

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}
