/*
 * The dashboard page (server/dashboard.html), embedded at build time by server/embed_page.py.
 * Read-only data with static lifetime, shared by every serving thread.
 */
#ifndef SB_DASHBOARD_H
#define SB_DASHBOARD_H

#include <stddef.h>

extern const char sb_dashboard_html[]; /* the page's bytes, UTF-8 */
extern const size_t sb_dashboard_len;  /* without the terminating NUL */
extern const char sb_dashboard_etag[]; /* strong, quoted: the answers' recipe over the bytes */
extern const char sb_dashboard_csp[];  /* Content-Security-Policy allowing the page's own inline
                                          script and style (by hash) and same-origin requests */

#endif
