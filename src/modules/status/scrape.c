/*
 * scrape.c -- the `status` module: the server's own scoreboard over HTTP,
 * for Prometheus and for people, as Apache's mod_status.
 *
 *     GET /metrics   OpenMetrics 1.0.0 when the Accept header asks for
 *                    application/openmetrics-text, else the Prometheus
 *                    text format 0.0.4
 *     GET /status    the JSON that `prefork -s status` prints
 *
 * HEAD is answered as GET without the body; another method gets 405, an
 * unknown path 404, and a client outside `allow` 403.  The text comes from
 * the host (pf_status_text), which reads every worker's slot of the shared
 * scoreboard: the workers of this service read it, the master serves
 * nothing.  Each answer closes its connection, so a scraper holds nothing
 * between scrapes.  Nothing blocks: a scraper that reads slowly keeps its
 * answer in c->data and the connection waits for room (PF_WRITE) for at
 * most `send_timeout` at a time, holding no worker.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include <prefork/module.h>

#include "cidr.h"

/* A request head longer than this is refused (431): a scraper's is short. */
#define HEAD_MAX 4096

struct status_conf {
    char     *allow;        /* CIDR list */
    long long send_timeout; /* ms */
};

/* One connection: the request head as it comes, then the answer. */
struct scrape {
    size_t len;
    char   head[HEAD_MAX + 1];
    char  *out; /* the whole answer, head and body */
    size_t outlen, sent;
    int    status;
};

static const struct pf_key status_keys[] = {
    {
        .name = "allow",
        .type = PF_KEY_STRING,
        .offset = offsetof(struct status_conf, allow),
        .def = "127.0.0.0/8, ::1",
        .help = "the clients that may look, as a CIDR list; others get 403",
    },
    {
        .name = "send_timeout",
        .type = PF_KEY_DURATION,
        .offset = offsetof(struct status_conf, send_timeout),
        .def = "10s",
        .min = 1,
        .max = INT_MAX,
        .help = "how long a request may take to come, and an answer to "
                "leave, without progress",
    },
    {0},
};

static int parse_allow(pf_service *svc, struct cidr_list *out)
{
    const struct status_conf *conf = svc->conf;
    char                      err[256];

    if (cidr_list_parse(conf->allow, out, err, sizeof(err)) == -1) {
        pf_conf_error(svc, "allow", "%s", err);
        return -1;
    }
    return 0;
}

/* The master, at -t, start-up and reload: the list, and a host that can
 * render the scoreboard (ABI 1.4). */
static int status_check(pf_service *svc)
{
    struct cidr_list l = {0};

    if (!PF_API_HAS(svc->api, status_text)) {
        pf_conf_error(svc, NULL,
                      "status needs a prefork of module ABI 1.4 or later");
        return -1;
    }
    if (parse_allow(svc, &l) == -1)
        return -1;
    cidr_list_free(&l);
    return 0;
}

static int status_worker_init(pf_service *svc)
{
    struct cidr_list *l = calloc(1, sizeof(*l));

    if (l == NULL || parse_allow(svc, l) == -1) {
        free(l);
        return -1;
    }
    svc->data = l;
    return 0;
}

static void status_worker_exit(pf_service *svc)
{
    if (svc->data != NULL)
        cidr_list_free(svc->data);
    free(svc->data);
    svc->data = NULL;
}

static int status_setup(pf_conn *c)
{
    const struct status_conf *conf = c->svc->conf;

    if ((c->data = calloc(1, sizeof(struct scrape))) == NULL)
        return -1;
    c->idle_timeout_ms = (int)conf->send_timeout;
    return 0;
}

static void status_finish(pf_conn *c)
{
    struct scrape *s = c->data;

    if (s != NULL)
        free(s->out);
    free(s);
    c->data = NULL;
}

/* --- the answer ------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
    }
}

/* Make s's answer: the head, then the body unless head_only. */
static int answer(struct scrape *s, int status, const char *type,
                  const char *body, size_t len, int head_only)
{
    char head[512];
    int  n;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\n%sCache-Control: no-store\r\n"
                 "Connection: close\r\n\r\n",
                 status, reason(status), type, len,
                 status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (head_only)
        len = 0;
    if ((s->out = malloc((size_t)n + len)) == NULL)
        return -1;
    memcpy(s->out, head, (size_t)n);
    if (len > 0)
        memcpy(s->out + n, body, len);
    s->outlen = (size_t)n + len;
    s->status = status;
    return 0;
}

static int error_answer(struct scrape *s, int status, int head_only)
{
    char body[64];
    int  n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));

    return answer(s, status, "text/plain; charset=utf-8", body, (size_t)n,
                  head_only);
}

/* Does the Accept header ask for OpenMetrics?  Prometheus sends
 * "application/openmetrics-text;version=1.0.0,...;q=0.5,text/plain...". */
static int wants_openmetrics(const char *head)
{
    const char *p = head;

    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "Accept:", 7) == 0) {
            const char *eol = strchr(p, '\n');
            const char *om = strcasestr(p, "application/openmetrics-text");

            return om != NULL && (eol == NULL || om < eol);
        }
    }
    return 0;
}

/* The page for a path; 0, or -1 (out of memory: the host said so). */
static int page(pf_conn *c, struct scrape *s, const char *path, size_t plen,
                int head_only)
{
    static const char om_type[] =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";
    static const char prom_type[] = "text/plain; version=0.0.4; charset=utf-8";
    const char       *type;
    char             *text;
    size_t            len;
    int               fmt, rc;

    if (plen == 8 && memcmp(path, "/metrics", 8) == 0) {
        fmt = wants_openmetrics(s->head) ? PF_STATUS_OPENMETRICS
                                         : PF_STATUS_PROMETHEUS;
        type = fmt == PF_STATUS_OPENMETRICS ? om_type : prom_type;
    } else if (plen == 7 && memcmp(path, "/status", 7) == 0) {
        fmt = PF_STATUS_JSON;
        type = "application/json";
    } else {
        return error_answer(s, 404, head_only);
    }
    if ((text = pf_status_text(c->svc, fmt, &len)) == NULL)
        return error_answer(s, 500, head_only);
    rc = answer(s, 200, type, text, len, head_only);
    free(text);
    return rc;
}

/* The request line of a whole head: what to answer. */
static int respond(pf_conn *c, struct scrape *s)
{
    const struct cidr_list *allow = c->svc->data;
    char                   *sp, *target, *end;
    size_t                  mlen, plen;
    int                     head_only;

    sp = strchr(s->head, ' ');
    if (sp == NULL)
        return error_answer(s, 400, 0);
    mlen = (size_t)(sp - s->head);
    head_only = mlen == 4 && memcmp(s->head, "HEAD", 4) == 0;
    target = sp + 1;
    end = strpbrk(target, " \r\n");
    if (end == NULL || *end != ' ' || strncmp(end + 1, "HTTP/1.", 7) != 0)
        return error_answer(s, 400, head_only);
    if (!cidr_list_match(allow, c->peer))
        return error_answer(s, 403, head_only);
    if (!head_only && !(mlen == 3 && memcmp(s->head, "GET", 3) == 0))
        return error_answer(s, 405, 0);
    plen = strcspn(target, "? ");
    return page(c, s, target, plen, head_only);
}

/* Send what the connection takes; PF_CLOSE once all went. */
static int send_answer(pf_conn *c, struct scrape *s)
{
    const struct status_conf *conf = c->svc->conf;
    struct iovec              iov;
    ssize_t                   n;

    iov.iov_base = s->out + s->sent;
    iov.iov_len = s->outlen - s->sent;
    n = pf_sendv_nowait(c, &iov, 1, 0);
    if (n == -1)
        return PF_CLOSE;
    s->sent += (size_t)n;
    if (s->sent < s->outlen) {
        c->idle_timeout_ms = (int)conf->send_timeout;
        return PF_WRITE;
    }
    pf_response_done(c, s->status);
    return PF_CLOSE;
}

static int status_handle(pf_conn *c)
{
    struct scrape *s = c->data;
    ssize_t        n;

    if (s->out != NULL)
        return send_answer(c, s);
    n = pf_recv_nowait(c, s->head + s->len, HEAD_MAX - s->len);
    if (n == -1)
        return errno == EAGAIN || errno == EWOULDBLOCK ? PF_MORE : PF_CLOSE;
    if (n == 0)
        return PF_CLOSE;
    s->len += (size_t)n;
    s->head[s->len] = '\0';
    if (strstr(s->head, "\r\n\r\n") == NULL &&
        strstr(s->head, "\n\n") == NULL) {
        if (s->len < HEAD_MAX)
            return PF_MORE;
        if (error_answer(s, 431, 0) == -1)
            return PF_CLOSE;
    } else if (respond(c, s) == -1) {
        return PF_CLOSE;
    }
    return send_answer(c, s);
}

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "status",
    .version = PACKAGE_VERSION,
    .socktypes = PF_STREAM,
    .keys = status_keys,
    .conf_size = sizeof(struct status_conf),
    .check = status_check,
    .worker_init = status_worker_init,
    .worker_exit = status_worker_exit,
    .setup = status_setup,
    .handle = status_handle,
    .finish = status_finish,
    .flags = PF_RESPONSES, /* send_answer() reports each */
};
