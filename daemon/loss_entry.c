#include "loss_entry.h"

#include <jansson.h>

#include "json_out.h"

char *loss_entry_build(const char *ts, const char *reported_by, const char *master, const struct loss_item *items,
                       size_t n)
{
	json_t *entry = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "event", "lost", "ts", ts, "reported_by", reported_by,
	                          "master", master, "lost");
	json_t *list = entry ? json_object_get(entry, "lost") : NULL;
	char *text = NULL;

	if (list == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct loss_item *it = &items[i];
		json_t *o = json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)it->seq, "id", it->id, "hash", it->hash);

		if (o == NULL || json_array_append_new(list, o) != 0)
			goto out;
		if (it->request_id && it->request_id[0] &&
		    json_object_set_new(o, "request_id", json_string(it->request_id)) != 0)
			goto out;
		if (it->what && it->what[0] && json_object_set_new(o, "what", json_string(it->what)) != 0)
			goto out;
	}
	text = json_out_dumps(entry);
out:
	json_decref(entry);
	return text;
}
