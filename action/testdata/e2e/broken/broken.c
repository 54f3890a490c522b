#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

ngx_module_t ngx_http_broken_module = { NGX_MODULE_V1, no_such_symbol };
