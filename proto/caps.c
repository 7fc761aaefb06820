/* SPDX-License-Identifier: MIT */
/*
 * The JSON of VFIO_USER_VERSION: encode what we offer, parse what a peer
 * offers (strictly by type, tolerant of what real servers add), and decide
 * what is in force once both sides have spoken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/common.h"
#include "caps.h"
#include "vfio-user.h"

void vu_caps_default(struct vu_caps *caps)
{
	*caps = (struct vu_caps){
	    .major = VFIO_USER_MAJOR,
	    .minor = VFIO_USER_MINOR,
	    .max_msg_fds = VU_DEFAULT_MAX_MSG_FDS,
	    .max_data_xfer_size = VU_DEFAULT_MAX_DATA_XFER_SIZE,
	    .pgsizes = VU_DEFAULT_PGSIZES,
	    .max_dma_maps = VU_DEFAULT_MAX_DMA_MAPS,
	    .mig_pgsize = VU_DEFAULT_PGSIZES,
	    .mig_max_bitmap_size = VU_DEFAULT_MIG_BITMAP_SIZE,
	};
}

/* Add key = val to obj, taking val in every case. */
static int add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *encode_migration(const struct vu_caps *caps)
{
	struct json_object *mig = json_object_new_object();

	if (!mig)
		return NULL;
	if (add(mig, "pgsize", json_object_new_uint64(caps->mig_pgsize)) ||
	    add(mig, "max_bitmap_size", json_object_new_uint64(caps->mig_max_bitmap_size))) {
		json_object_put(mig);
		return NULL;
	}
	return mig;
}

static struct json_object *encode_twin(const struct vu_caps *caps)
{
	struct json_object *twin = json_object_new_object();

	if (!twin)
		return NULL;
	if (add(twin, "supported", json_object_new_boolean(1)) ||
	    add(twin, "fd_index", json_object_new_int64(caps->twin_fd_index))) {
		json_object_put(twin);
		return NULL;
	}
	return twin;
}

static int encode_caps(const struct vu_caps *caps, struct json_object *c)
{
	int ret = add(c, "max_msg_fds", json_object_new_int64(caps->max_msg_fds));

	if (!ret)
		ret = add(c, "max_data_xfer_size", json_object_new_int64(caps->max_data_xfer_size));
	if (!ret)
		ret = add(c, "pgsizes", json_object_new_uint64(caps->pgsizes));
	if (!ret)
		ret = add(c, "max_dma_maps", json_object_new_int64(caps->max_dma_maps));
	if (!ret)
		ret = add(c, "write_multiple", json_object_new_boolean(caps->write_multiple));
	if (!ret && caps->migration)
		ret = add(c, "migration", encode_migration(caps));
	if (!ret && caps->twin_socket)
		ret = add(c, "twin_socket", encode_twin(caps));
	return ret;
}

int vu_caps_encode(const struct vu_caps *caps, char **json)
{
	struct json_object *top = json_object_new_object();
	struct json_object *c = json_object_new_object();
	const char *text;
	int ret = -ENOMEM;

	*json = NULL;
	if (!top || !c)
		goto out;
	ret = encode_caps(caps, c);
	if (ret)
		goto out;
	ret = add(top, "capabilities", c);
	c = NULL;
	if (ret)
		goto out;
	text = json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN);
	*json = text ? strdup(text) : NULL;
	ret = *json ? 0 : -ENOMEM;
out:
	json_object_put(c);
	json_object_put(top);
	return ret;
}

struct parse {
	char *why;
	size_t whylen;
};

/* An unsigned integer in [lo, hi]. JSON doubles ("1.0", "1e3") are not
 * integers; json-c keeps values above INT64_MAX as uint64. */
static int get_uint(struct parse *ps, struct json_object *o, const char *key, uint64_t lo,
                    uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (!json_object_is_type(o, json_type_int))
		return why_fail(-EINVAL, ps->why, ps->whylen, "%s is not an integer", key);
	if (json_object_get_int64(o) < 0)
		return why_fail(-EINVAL, ps->why, ps->whylen, "%s is negative", key);
	v = json_object_get_uint64(o);
	if (v < lo || v > hi)
		return why_fail(-EINVAL, ps->why, ps->whylen, "%s %llu is not within %llu..%llu",
		                key, (unsigned long long)v, (unsigned long long)lo,
		                (unsigned long long)hi);
	*out = v;
	return 0;
}

/* Optional integer member key of obj; left alone when absent. */
static int opt_uint(struct parse *ps, struct json_object *obj, const char *key, uint64_t lo,
                    uint64_t hi, uint64_t *out)
{
	struct json_object *o;

	if (!json_object_object_get_ex(obj, key, &o))
		return 0;
	return get_uint(ps, o, key, lo, hi, out);
}

static int opt_u32(struct parse *ps, struct json_object *obj, const char *key, uint64_t lo,
                   uint64_t hi, uint32_t *out)
{
	uint64_t v = *out;
	int ret = opt_uint(ps, obj, key, lo, hi, &v);

	*out = (uint32_t)v;
	return ret;
}

static int opt_bool(struct parse *ps, struct json_object *obj, const char *key, bool *out)
{
	struct json_object *o;

	if (!json_object_object_get_ex(obj, key, &o))
		return 0;
	if (!json_object_is_type(o, json_type_boolean))
		return why_fail(-EINVAL, ps->why, ps->whylen, "%s is not a boolean", key);
	*out = json_object_get_boolean(o);
	return 0;
}

/* Optional object member key of obj: *sub is NULL when absent. */
static int opt_object(struct parse *ps, struct json_object *obj, const char *key,
                      struct json_object **sub)
{
	*sub = NULL;
	if (!json_object_object_get_ex(obj, key, sub))
		return 0;
	if (!json_object_is_type(*sub, json_type_object))
		return why_fail(-EINVAL, ps->why, ps->whylen, "%s is not an object", key);
	return 0;
}

static bool power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int parse_migration(struct parse *ps, struct json_object *mig, struct vu_caps *caps)
{
	int ret = opt_uint(ps, mig, "pgsize", 1, UINT64_MAX, &caps->mig_pgsize);

	if (ret)
		return ret;
	if (!power_of_two(caps->mig_pgsize))
		return why_fail(-EINVAL, ps->why, ps->whylen,
		                "migration pgsize %llu is not a power of two",
		                (unsigned long long)caps->mig_pgsize);
	caps->migration = true;
	return opt_uint(ps, mig, "max_bitmap_size", 1, UINT64_MAX, &caps->mig_max_bitmap_size);
}

static int parse_twin(struct parse *ps, struct json_object *twin, struct vu_caps *caps)
{
	int ret = opt_bool(ps, twin, "supported", &caps->twin_socket);

	if (ret)
		return ret;
	return opt_u32(ps, twin, "fd_index", 0, VU_MAX_MSG_FDS_LIMIT - 1, &caps->twin_fd_index);
}

/*
 * pgsizes: the spec only says it is the page sizes DMA maps may use, or'ed
 * together. A mask of zero allows no map at all, so it is refused; the 4 KiB
 * bit is not required, since a server that maps only huge pages may
 * honestly offer 2 MiB alone.
 */
static int parse_caps(struct parse *ps, struct json_object *c, struct vu_caps *caps)
{
	struct json_object *sub;
	int ret;

	ret = opt_u32(ps, c, "max_msg_fds", 0, VU_MAX_MSG_FDS_LIMIT, &caps->max_msg_fds);
	if (!ret)
		ret = opt_u32(ps, c, "max_data_xfer_size", 1, VU_MAX_XFER_SIZE_LIMIT,
		              &caps->max_data_xfer_size);
	if (!ret)
		ret = opt_uint(ps, c, "pgsizes", 1, UINT64_MAX, &caps->pgsizes);
	if (!ret)
		ret = opt_u32(ps, c, "max_dma_maps", 0, UINT32_MAX, &caps->max_dma_maps);
	if (!ret)
		ret = opt_bool(ps, c, "write_multiple", &caps->write_multiple);
	if (!ret)
		ret = opt_object(ps, c, "migration", &sub);
	if (!ret && sub)
		ret = parse_migration(ps, sub, caps);
	if (!ret)
		ret = opt_object(ps, c, "twin_socket", &sub);
	if (!ret && sub)
		ret = parse_twin(ps, sub, caps);
	return ret;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* The length of json once trailing NULs and whitespace are dropped. */
static size_t trimmed_len(const char *json, size_t len)
{
	while (len && (json[len - 1] == '\0' || is_space(json[len - 1])))
		len--;
	return len;
}

static int tokenize(struct parse *ps, const char *json, size_t len, struct json_object **top)
{
	struct json_tokener *tok = NULL;
	enum json_tokener_error err;
	char *text = NULL;
	int ret = -ENOMEM;

	*top = NULL;
	if (len >= INT32_MAX)
		return why_fail(-EINVAL, ps->why, ps->whylen, "JSON of %zu bytes", len);
	/* Given the NUL as part of the text, the tokener knows the text ends
	 * there, so a top-level number is complete rather than cut short. */
	text = strndup(json, len);
	tok = json_tokener_new();
	if (!text || !tok)
		goto out;
	/* Strict: trailing bytes after the value are an error, too. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*top = json_tokener_parse_ex(tok, text, (int)len + 1);
	err = json_tokener_get_error(tok);
	ret = 0;
	if (err != json_tokener_success)
		ret = why_fail(-EINVAL, ps->why, ps->whylen, "bad JSON: %s",
		               json_tokener_error_desc(err));
	else if (!json_object_is_type(*top, json_type_object))
		ret = why_fail(-EINVAL, ps->why, ps->whylen, "JSON top level is not an object");
	if (ret) {
		json_object_put(*top);
		*top = NULL;
	}
out:
	if (tok)
		json_tokener_free(tok);
	free(text);
	return ret;
}

int vu_caps_parse(const char *json, size_t len, struct vu_caps *caps, char *why, size_t whylen)
{
	struct parse ps = {.why = why, .whylen = whylen};
	struct json_object *top = NULL, *c;
	struct vu_caps out;
	int ret;

	vu_caps_default(&out);
	len = json ? trimmed_len(json, len) : 0;
	if (len == 0)
		goto done;
	if (memchr(json, '\0', len))
		return why_fail(-EINVAL, why, whylen, "NUL inside the JSON text");
	ret = tokenize(&ps, json, len, &top);
	if (ret)
		return ret;
	ret = opt_object(&ps, top, "capabilities", &c);
	if (!ret && c)
		ret = parse_caps(&ps, c, &out);
	if (ret)
		goto out;
done:
	*caps = out;
	ret = 0;
out:
	json_object_put(top);
	return ret;
}

int vu_caps_from_version(const void *payload, size_t len, struct vu_caps *caps, char *why,
                         size_t whylen)
{
	struct vfio_user_version v;
	int ret;

	if (len < sizeof(v))
		return why_fail(-EINVAL, why, whylen, "VERSION payload of %zu bytes", len);
	memcpy(&v, payload, sizeof(v));
	ret = vu_caps_parse((const char *)payload + sizeof(v), len - sizeof(v), caps, why, whylen);
	if (ret)
		return ret;
	caps->major = v.major;
	caps->minor = v.minor;
	return 0;
}

/* The fields in force are listed in caps.h. */
int vu_caps_agree(const struct vu_caps *ours, const struct vu_caps *theirs, struct vu_caps *out,
                  char *why, size_t whylen)
{
	struct vu_caps r = *theirs;

	if (theirs->major != ours->major)
		return why_fail(-EPROTO, why, whylen, "server speaks %u.%u, we speak %u.%u",
		                theirs->major, theirs->minor, ours->major, ours->minor);
	if (theirs->minor > ours->minor)
		return why_fail(-EPROTO, why, whylen, "server minor %u above our %u.%u",
		                theirs->minor, ours->major, ours->minor);
	if (theirs->twin_socket && !ours->twin_socket)
		return why_fail(-EPROTO, why, whylen,
		                "server turned on twin_socket, which we did not offer");
	if (ours->max_data_xfer_size < r.max_data_xfer_size)
		r.max_data_xfer_size = ours->max_data_xfer_size;
	r.write_multiple = ours->write_multiple && theirs->write_multiple;
	r.migration = ours->migration && theirs->migration;
	if (ours->mig_pgsize < r.mig_pgsize)
		r.mig_pgsize = ours->mig_pgsize;
	if (ours->mig_max_bitmap_size < r.mig_max_bitmap_size)
		r.mig_max_bitmap_size = ours->mig_max_bitmap_size;
	*out = r;
	return 0;
}
