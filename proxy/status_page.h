/* The HTML of the status page (GET /status), a static string. */
#ifndef DW_STATUS_PAGE_H
#define DW_STATUS_PAGE_H

#include <stddef.h>

extern const char dw_status_page[];
extern const size_t dw_status_page_len;

#endif
