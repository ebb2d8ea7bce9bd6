/*
 * difflm_status.h - difflm's status codes and log levels, included by difflm.h.
 *
 * A header of its own so that the library's lowest layer (lib/core) can share the one
 * list without depending on the rest of the public API. Include difflm.h, not this.
 */
#ifndef DIFFLM_STATUS_H
#define DIFFLM_STATUS_H

/* X(name, value, description). Values never change once released. */
#define DIFFLM_STATUS_LIST(X)                                                          \
    X(OK, 0, "success")                                                                \
    X(DONE, 1, "generation finished")                                                  \
    X(E_INVALID_ARG, -1, "invalid argument")                                           \
    X(E_NOMEM, -2, "out of memory")                                                    \
    X(E_IO, -3, "cannot read or write a file")                                         \
    X(E_FORMAT, -4, "malformed model file")                                            \
    X(E_UNSUPPORTED, -5, "unsupported model, tensor type or feature")                  \
    X(E_BUFFER_TOO_SMALL, -6, "output buffer too small")                               \
    X(E_STATE, -7, "call not valid in the current state")                              \
    X(E_CANCELLED, -8, "cancelled")                                                    \
    X(E_TOO_LONG, -9, "canvas longer than the context was created for")                \
    X(E_INTERNAL, -10, "internal error")

enum difflm_status {
#define DIFFLM_STATUS_ENUM_(name, value, text) DIFFLM_##name = value,
    DIFFLM_STATUS_LIST(DIFFLM_STATUS_ENUM_)
#undef DIFFLM_STATUS_ENUM_
};

/* Log levels, most severe first. */
#define DIFFLM_LOG_ERROR 0
#define DIFFLM_LOG_WARN 1
#define DIFFLM_LOG_INFO 2
#define DIFFLM_LOG_DEBUG 3

#endif /* DIFFLM_STATUS_H */
