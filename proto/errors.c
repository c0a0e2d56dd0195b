/* errors.c - text for the codes of errors.h, derived from the same table. */
#include "proto/errors.h"

const char *hm_strerror(int code)
{
	switch (code) {
#define HM_ERR_CASE(name, value, text) \
	case (value):                  \
		return (text);
		HM_ERRORS(HM_ERR_CASE)
#undef HM_ERR_CASE
	}
	return "unknown error";
}
