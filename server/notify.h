/*
 * notify.h - the systemd service manager protocol, without libsystemd
 * (sd_notify(3) and sd_watchdog_enabled(3), as documented there).
 *
 * Messages are datagrams of "KEY=VALUE\n" lines sent to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * When the variable is absent (no systemd, a plain shell) every call is a
 * no-op that succeeds: crunchd runs the same with or without systemd.
 *
 * notify_init() reads and then unsets NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID, so the workers forked later never talk to systemd: only the
 * master does (NotifyAccess=main).
 *
 * Master only; not thread-safe.
 */
#ifndef CRUNCHD_NOTIFY_H
#define CRUNCHD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the environment (see above). Returns 0, or -1 with err set when
 * NOTIFY_SOCKET is set but unusable (then notifications stay off). */
int notify_init(char *err, size_t errlen);

/* True when NOTIFY_SOCKET was set and usable. */
bool notify_enabled(void);

/*
 * Sends one message, printf-style, e.g. notify_send("READY=1\nSTATUS=%s", s).
 * Returns 0 (also when notifications are off), or -1 if sendmsg() failed;
 * the caller decides whether that is worth a log line.
 */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with MONOTONIC_USEC=<now>, as systemd 253+ expects. */
int notify_reloading(void);

/*
 * The watchdog interval in microseconds from WATCHDOG_USEC (when
 * WATCHDOG_PID is absent or ours), or 0 when the watchdog is off. Send
 * WATCHDOG=1 every half of it.
 */
uint64_t notify_watchdog_usec(void);

/* Closes the socket. */
void notify_close(void);

#endif
