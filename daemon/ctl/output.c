/*
 * output.c - how hmacctl speaks: one-line diagnostics, the usage texts derived from the tables,
 * JSON strings, and listings built in memory and printed only once complete.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

const char *ctl_shown(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || s[i] < 0x20 || s[i] > 0x7e)
			return "(unprintable)";
	}
	return s;
}

void ctl_usage_line(FILE *f, const char *group, const struct cmd *cmd)
{
	int o;

	fprintf(f, "hmacctl");
	if (cmd->need & F(OPT_DB))
		fprintf(f, " --db DIR"); /* restore: $HMACD_DB is not enough for what it replaces */
	else if (cmd->opts & F(OPT_DB))
		fprintf(f, " [--db DIR]");
	if (cmd->opts & F(OPT_SOCKET))
		fprintf(f, " [--socket PATH]");
	if (cmd->opts & F(OPT_SEAL_KEY_FILE))
		fprintf(f, " [--seal-key-file FILE]");
	fprintf(f, " %s%s%s", group != NULL ? group : "", group != NULL ? " " : "", cmd->name);
	for (o = 0; o < OPT__MAX; o++) {
		if (!(cmd->opts & F(o)) || (F(o) & OPTS_GLOBAL))
			continue;
		if (cmd->need & F(o))
			fprintf(f, " --%s %s", ctl_optdefs[o].name, ctl_optdefs[o].arg);
		else if (ctl_optdefs[o].arg != NULL)
			fprintf(f, " [--%s %s]", ctl_optdefs[o].name, ctl_optdefs[o].arg);
		else
			fprintf(f, " [--%s]", ctl_optdefs[o].name);
	}
	fprintf(f, "\n");
}

void ctl_usage_cmds(FILE *f, const char *group, const struct cmd *cmds)
{
	const struct cmd *cmd;

	for (cmd = cmds; cmd->name != NULL; cmd++) {
		if (cmd->sub != NULL) {
			ctl_usage_cmds(f, cmd->name, cmd->sub);
			continue;
		}
		fprintf(f, "  ");
		ctl_usage_line(f, group, cmd);
		fprintf(f, "      %s\n", cmd->help);
	}
}

void ctl_usage(FILE *f, const struct cmd *top)
{
	char spec[40];
	int o;

	fprintf(f, "usage: hmacctl [--db DIR] [--socket PATH] [--seal-key-file FILE] COMMAND "
		   "[OPTIONS]\n\n"
		   "Manages the hmacd key store directly, talks to a running hmacd, makes the\n"
		   "fleet's seal key.\n\n"
		   "commands:\n");
	ctl_usage_cmds(f, NULL, top);
	fprintf(f, "  hmacctl help | --help\n\noptions (before or after the command):\n");
	for (o = 0; o < OPT__MAX; o++) {
		snprintf(spec, sizeof(spec), "--%s%s%s", ctl_optdefs[o].name,
			 ctl_optdefs[o].arg != NULL ? " " : "",
			 ctl_optdefs[o].arg != NULL ? ctl_optdefs[o].arg : "");
		if (strlen(spec) > 19)
			fprintf(f, "  %s\n  %-19s %s\n", spec, "", ctl_optdefs[o].help);
		else
			fprintf(f, "  %-19s %s\n", spec, ctl_optdefs[o].help);
	}
	fprintf(f, "\nexit status: 0 ok, 1 store, daemon or seal key error, 2 usage error,\n"
		   "  3 no such scope, epoch or policy, 4 scope or key id exists or epoch already\n"
		   "  revoked, backup file exists, restore needs --force; explain: 0 hmacd would\n"
		   "  answer OK, 1 it would refuse the request, 2 the capture file is not valid\n");
}

int ctl_usage_error(const char *group, const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cmd != NULL)
		fprintf(stderr, "hmacctl: %s%s%s: ", group != NULL ? group : "",
			group != NULL ? " " : "", cmd->name);
	else
		fprintf(stderr, "hmacctl: usage: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'hmacctl --help')\n");
	return CTL_USAGE;
}

void ctl_json_str(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

int ctl_list_begin(struct list_out *lo, const char *what, const char *json_open,
		   const char *header_fmt, ...)
{
	va_list ap;

	lo->what = what;
	lo->close = json_open[0] == '[' ? "]\n" : "}\n";
	lo->f = open_memstream(&lo->buf, &lo->len);
	if (lo->f == NULL) {
		fprintf(stderr, "hmacctl: %s: open_memstream: %s\n", what, strerror(errno));
		return CTL_ERR;
	}
	if (lo->json) {
		fputs(json_open, lo->f);
	} else if (header_fmt != NULL) {
		va_start(ap, header_fmt);
		vfprintf(lo->f, header_fmt, ap);
		va_end(ap);
	}
	return CTL_OK;
}

void ctl_list_next(struct list_out *lo)
{
	if (lo->json && lo->n > 0)
		fputc(',', lo->f);
	lo->n++;
}

int ctl_list_end(struct list_out *lo, int status)
{
	int rc;

	if (status == CTL_OK && lo->json)
		fputs(lo->close, lo->f);
	if (status == CTL_OK) {
		rc = fclose(lo->f);
		lo->f = NULL;
		if (rc != 0) {
			fprintf(stderr, "hmacctl: %s: %s\n", lo->what, strerror(errno));
			status = CTL_ERR;
		} else if (fwrite(lo->buf, 1, lo->len, stdout) != lo->len || fflush(stdout) != 0) {
			fprintf(stderr, "hmacctl: %s: writing output: %s\n", lo->what,
				strerror(errno));
			status = CTL_ERR;
		}
	}
	if (lo->f != NULL)
		fclose(lo->f);
	free(lo->buf);
	return status;
}
