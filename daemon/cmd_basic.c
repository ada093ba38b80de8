/* The session verbs that need no Redis: PING, QUIT, HELP, STATS. */
#include <jansson.h>

#include "addr_throttle.h"
#include "commands.h"
#include "conn.h"
#include "handlers.h"
#include "durability.h"
#include "journal.h"
#include "loss.h"
#include "spooler.h"
#include "tail.h"
#include "redis_link.h"
#include "sentinel.h"
#include "server.h"

void cmd_ping(struct request *req, const struct command_args *args)
{
	request_reply_ok(req, NULL);
}

void cmd_quit(struct request *req, const struct command_args *args)
{
	conn_close_after_replies(req->conn);
	request_reply_ok(req, NULL);
}

void cmd_help(struct request *req, const struct command_args *args)
{
	json_t *verbs = json_array();
	json_t *body;

	for (size_t i = 0; i < command_count(); i++)
		json_array_append_new(verbs, json_string(command_at(i)->name));
	body = json_pack("{s:o}", "verbs", verbs);
	request_reply_ok(req, body);
	json_decref(body);
}

void cmd_stats(struct request *req, const struct command_args *args)
{
	struct server *srv = req->srv;
	json_t *body = stats_to_json(&srv->stats);

	json_object_set_new(body, "version", json_string(HOTLINE_VERSION));
	json_object_set_new(body, "redis",
	                    json_pack("{s:s,s:s,s:I,s:I}", "state", redis_link_state_name(redis_link_state(srv->redis)),
	                              "address", redis_link_address(srv->redis), "pending",
	                              (json_int_t)redis_link_pending(srv->redis), "reconnects",
	                              (json_int_t)redis_link_reconnects(srv->redis)));
	json_object_set_new(json_object_get(body, "redis"), "persistence", durability_to_json(srv->durability));
	if (srv->sentinel)
		json_object_set_new(json_object_get(body, "redis"), "sentinel",
		                    json_pack("{s:s,s:s,s:s,s:I}", "master_name",
		                              sentinel_master_name(srv->sentinel), "master",
		                              sentinel_master_text(srv->sentinel), "watching",
		                              sentinel_watching(srv->sentinel), "switches",
		                              (json_int_t)sentinel_switches(srv->sentinel)));
	if (srv->cfg->redis.wait.replicas > 0)
		json_object_set_new(json_object_get(body, "redis"), "wait",
		                    json_pack("{s:I,s:I,s:I,s:I}", "replicas",
		                              (json_int_t)srv->cfg->redis.wait.replicas, "timeout_ms",
		                              (json_int_t)srv->cfg->redis.wait.timeout_ms, "waits",
		                              (json_int_t)journal_waits(srv->journal), "short",
		                              (json_int_t)journal_waits_short(srv->journal)));
	json_object_set_new(
	    body, "log",
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "calls_appended",
	              (json_int_t)journal_appended(srv->journal, STREAM_CALLS), "complaints_appended",
	              (json_int_t)journal_appended(srv->journal, STREAM_COMPLAINTS), "calls_lost",
	              (json_int_t)loss_count(srv->loss, STREAM_CALLS), "complaints_lost",
	              (json_int_t)loss_count(srv->loss, STREAM_COMPLAINTS), "calls_lost_recorded",
	              (json_int_t)loss_recorded(srv->loss, STREAM_CALLS), "complaints_lost_recorded",
	              (json_int_t)loss_recorded(srv->loss, STREAM_COMPLAINTS)));
	json_object_set_new(json_object_get(body, "connections"), "tls_handshake_failures",
	                    json_integer((json_int_t)srv->tls_handshake_failures));
	json_object_set_new(body, "auth",
	                    json_pack("{s:I,s:I,s:I}", "throttled", (json_int_t)srv->stats.auth_throttled,
	                              "address_blocks", (json_int_t)srv->stats.auth_addr_blocks, "addresses_tracked",
	                              (json_int_t)addr_throttle_tracked(srv->auth_throttle)));
	json_object_set_new(body, "tails",
	                    json_pack("{s:I,s:I,s:I}", "subscribers", (json_int_t)tailer_subscribers(srv->tailer),
	                              "pushed", (json_int_t)tailer_pushed(srv->tailer), "overflows",
	                              (json_int_t)tailer_overflows(srv->tailer)));
	json_object_set_new(body, "spool",
	                    json_pack("{s:I,s:I}", "pending", (json_int_t)spooler_pending(srv->spooler), "bytes",
	                              (json_int_t)spooler_bytes(srv->spooler)));
	request_reply_ok(req, body);
	json_decref(body);
}
