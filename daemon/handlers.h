/* handlers.h - the verb handlers the command table points at, one module
 * per area (session verbs here, screen pop, call log, ... in their own). */
#ifndef HOTLINE_HANDLERS_H
#define HOTLINE_HANDLERS_H

#include "commands.h"

/* cmd_basic.c */
command_fn cmd_ping, cmd_quit, cmd_help, cmd_stats;
/* auth.c */
command_fn cmd_auth;
/* pop.c */
command_fn cmd_pop;
/* cmd_call.c */
command_fn cmd_call;
/* cmd_complaint.c */
command_fn cmd_complaint;
/* cmd_queue.c */
command_fn cmd_queue;
/* tail.c */
command_fn cmd_tail, cmd_untail;

#endif
