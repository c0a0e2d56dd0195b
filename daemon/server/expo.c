/*
 * expo.c - the Prometheus text exposition format (see expo.h).
 */
#include "server/expo.h"

#include <stdbool.h>

static void put_str(struct hm_buf *out, const char *s)
{
	hm_buf_append(out, s, strlen(s));
}

/* The escapes of the format: label values escape '"' too, HELP text does not. */
static void put_escaped(struct hm_buf *out, const char *s, size_t len, bool quote)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		const char *esc = s[i] == '\\'	       ? "\\\\"
				  : s[i] == '\n'	       ? "\\n"
				  : s[i] == '"' && quote ? "\\\""
							 : NULL;

		if (esc == NULL)
			continue;
		hm_buf_append(out, s + run, i - run);
		put_str(out, esc);
		run = i + 1;
	}
	hm_buf_append(out, s + run, len - run);
}

#define SCALED_MAX 48 /* 20 digits, up to 18 zeros before them, the point, a NUL */

/*
 * v / 10^decimals in decimal into text (NUL-terminated), the fraction's trailing zeros dropped
 * (0.00025, 3, 1.5). Returns the length.
 */
static size_t fmt_scaled(char text[SCALED_MAX], uint64_t v, unsigned decimals)
{
	char digits[SCALED_MAX];
	size_t n = 0, t = 0, point;

	if (decimals > 18)
		decimals = 18;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n <= decimals)
		digits[n++] = '0'; /* at least one digit before the point */
	point = n - decimals;
	for (size_t i = 0; i < n; i++) {
		if (i == point)
			text[t++] = '.';
		text[t++] = digits[n - 1 - i];
	}
	if (decimals > 0) {
		while (text[t - 1] == '0')
			t--;
		if (text[t - 1] == '.')
			t--;
	}
	text[t] = '\0';
	return t;
}

static void put_scaled(struct hm_buf *out, uint64_t v, unsigned decimals)
{
	char text[SCALED_MAX];
	size_t n = fmt_scaled(text, v, decimals);

	hm_buf_append(out, text, n);
}

void hm_expo_family(struct hm_buf *out, const char *name, const char *type, const char *help)
{
	put_str(out, "# HELP ");
	put_str(out, name);
	hm_buf_append_byte(out, ' ');
	put_escaped(out, help, strlen(help), false);
	put_str(out, "\n# TYPE ");
	put_str(out, name);
	hm_buf_append_byte(out, ' ');
	put_str(out, type);
	hm_buf_append_byte(out, '\n');
}

/* {a="x",b="y"} plus an optional last label le="..." given already formatted; nothing if none */
static void put_labels(struct hm_buf *out, const struct hm_expo_label *labels, size_t nlabels,
		       const char *le)
{
	if (nlabels == 0 && le == NULL)
		return;
	hm_buf_append_byte(out, '{');
	for (size_t i = 0; i < nlabels; i++) {
		if (i > 0)
			hm_buf_append_byte(out, ',');
		put_str(out, labels[i].name);
		put_str(out, "=\"");
		put_escaped(out, labels[i].value, labels[i].value_len, true);
		hm_buf_append_byte(out, '"');
	}
	if (le != NULL) {
		if (nlabels > 0)
			hm_buf_append_byte(out, ',');
		put_str(out, "le=\"");
		put_str(out, le);
		hm_buf_append_byte(out, '"');
	}
	hm_buf_append_byte(out, '}');
}

static void sample(struct hm_buf *out, const char *name, const char *suffix,
		   const struct hm_expo_label *labels, size_t nlabels, const char *le,
		   uint64_t value, unsigned decimals)
{
	put_str(out, name);
	put_str(out, suffix);
	put_labels(out, labels, nlabels, le);
	hm_buf_append_byte(out, ' ');
	put_scaled(out, value, decimals);
	hm_buf_append_byte(out, '\n');
}

void hm_expo_sample(struct hm_buf *out, const char *name, const struct hm_expo_label *labels,
		    size_t nlabels, uint64_t value, unsigned decimals)
{
	sample(out, name, "", labels, nlabels, NULL, value, decimals);
}

void hm_expo_histogram(struct hm_buf *out, const char *name, const struct hm_expo_label *labels,
		       size_t nlabels, const uint64_t *bounds, const uint64_t *counts,
		       size_t nbounds, uint64_t sum, unsigned decimals)
{
	char le[SCALED_MAX];
	uint64_t total = 0;

	for (size_t i = 0; i <= nbounds; i++) {
		total += counts[i];
		if (i < nbounds)
			(void)fmt_scaled(le, bounds[i], decimals);
		else
			memcpy(le, "+Inf", sizeof("+Inf"));
		sample(out, name, "_bucket", labels, nlabels, le, total, 0);
	}
	sample(out, name, "_sum", labels, nlabels, NULL, sum, decimals);
	sample(out, name, "_count", labels, nlabels, NULL, total, 0);
}
