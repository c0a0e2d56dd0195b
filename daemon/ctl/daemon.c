/* daemon.c - hmacctl ping and stats: the running hmacd, through libhmacd. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fleet/state.h"
#include "hmacd/client.h"
#include "ctl/ctl.h"

static int connect_daemon(const struct ctl *c, const struct cmd *self, struct hmacd_client **hc,
			  const char **pathp)
{
	const char *path = ctl_opt_or_env(c, OPT_SOCKET, "HMACD_SOCKET");
	struct hmacd_options o = {0};
	int rc;

	*hc = NULL;
	if (path == NULL)
		return ctl_usage_error(NULL, self, "%s",
				       "no daemon socket: give --socket PATH or set HMACD_SOCKET");
	*pathp = path;
	o.server_user = c->opt[OPT_SERVER_USER];
	rc = hmacd_connect(path, &o, hc);
	if (rc == HMACD_EINVAL && o.server_user != NULL)
		return ctl_usage_error(NULL, self, "--server-user: '%s' is not a user or a uid",
				       ctl_shown(o.server_user));
	if (rc == HMACD_EPEER) {
		fprintf(stderr, "hmacctl: connect %s: %s (%s); refusing to talk to it\n",
			ctl_shown(path), hmacd_strerror(rc),
			o.server_user != NULL ? "not --server-user"
					      : "neither the owner of its directory nor root");
		return CTL_ERR;
	}
	if (rc != HMACD_OK) {
		fprintf(stderr, "hmacctl: connect %s: %s\n", ctl_shown(path), hmacd_strerror(rc));
		return CTL_ERR;
	}
	return CTL_OK;
}

int cmd_ping(const struct ctl *c, const struct cmd *self)
{
	struct hmacd_client *hc = NULL;
	const char *path = NULL;
	int rc, status;

	status = connect_daemon(c, self, &hc, &path);
	if (status != CTL_OK)
		return status;
	rc = hmacd_ping(hc);
	if (rc == HMACD_OK) {
		printf("pong\n");
		status = CTL_OK;
	} else {
		fprintf(stderr, "hmacctl: ping %s: %s\n", ctl_shown(path), hmacd_strerror(rc));
		status = CTL_ERR;
	}
	hmacd_close(hc);
	return status;
}

/* Counter names come from the daemon: escaped for JSON, made printable for humans. */
static void put_name(FILE *f, const char *name, bool json)
{
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (json && (*p == '"' || *p == '\\'))
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, json ? "\\u%04x" : "?", *p);
		else
			fputc(*p, f);
	}
}

static void stats_row(const char *name, uint64_t value, void *arg)
{
	struct list_out *so = arg;

	ctl_list_next(so);
	if (strcmp(name, "fleet_state") == 0) {
		/* a number on the wire, like every counter; its word for people and scripts */
		fprintf(so->f, so->json ? "\"fleet_state\":\"%s\"" : "fleet_state %s\n",
			hm_follow_state_name(value));
	} else if (so->json) {
		fputc('"', so->f);
		put_name(so->f, name, true);
		fprintf(so->f, "\":%" PRIu64, value);
	} else {
		put_name(so->f, name, false);
		fprintf(so->f, " %" PRIu64 "\n", value);
	}
}

int cmd_stats(const struct ctl *c, const struct cmd *self)
{
	struct list_out so = { .json = c->opt[OPT_JSON] != NULL };
	struct hmacd_client *hc = NULL;
	const char *path = NULL;
	int rc, status;

	status = connect_daemon(c, self, &hc, &path);
	if (status != CTL_OK)
		return status;
	status = ctl_list_begin(&so, "stats", "{", NULL);
	if (status == CTL_OK) {
		rc = hmacd_stats(hc, stats_row, &so);
		if (rc != HMACD_OK) {
			fprintf(stderr, "hmacctl: stats %s: %s\n", ctl_shown(path),
				hmacd_strerror(rc));
			status = CTL_ERR;
		}
	}
	hmacd_close(hc);
	return ctl_list_end(&so, status);
}
