/* sw_err: messages and names for the SW_ERR_MAP table. */
#include "sw_err.h"

const char *sw_strerror(int err)
{
    switch (err) {
    case SW_OK:
        return "success";
#define SW__ERR_MSG(name, code, msg)                                           \
    case code:                                                                 \
        return msg;
        SW_ERR_MAP(SW__ERR_MSG)
#undef SW__ERR_MSG
    }
    return "unknown error";
}

const char *sw_err_name(int err)
{
    switch (err) {
    case SW_OK:
        return "OK";
#define SW__ERR_NAME(name, code, msg)                                          \
    case code:                                                                 \
        return #name;
        SW_ERR_MAP(SW__ERR_NAME)
#undef SW__ERR_NAME
    }
    return "UNKNOWN";
}
