/* verdict.c - names of the verdict codes, from the table in verdict.h. */
#include "proto/verdict.h"

const char *hm_verdict_name(unsigned verdict)
{
	switch (verdict) {
#define HM_V_CASE(name, value, str) \
	case (value):               \
		return (str);
		HM_VERDICTS(HM_V_CASE)
#undef HM_V_CASE
	}
	return "UNKNOWN";
}
