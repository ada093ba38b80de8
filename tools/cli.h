/* cli.h - the `hotline` command-line tool: one file per sub-command. */
#ifndef HOTLINE_CLI_H
#define HOTLINE_CLI_H

/* Exit codes shared by every sub-command (documented in hotline(1)). */
enum {
	CLI_OK = 0,
	CLI_FINDINGS = 1, /* the command ran and found problems (audit, import rejects) */
	CLI_FAILED = 2,   /* the command could not run */
	CLI_USAGE = 64,
};

int cmd_passwd(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_demo_data(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_replay(int argc, char **argv);
/* `hotline replay --to HOST:PORT ...`: re-drive the logged events into a
 * running hotlined; cmd_replay hands it the whole command line (argv[0] is "replay"). */
int replay_to(int argc, char **argv);
/* `hotline import queue-log`, dispatched from cmd_import. */
int cmd_import_queue_log(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
