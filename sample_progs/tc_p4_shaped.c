// SPDX-License-Identifier: GPL-2.0
/*
 * tc_p4_shaped.c - a TC ingress program in the shape a P4 compiler (p4c-ebpf) emits.
 *
 * Written by hand, but laid out the way generated code is, because that is what users
 * of P4-to-eBPF toolchains end up debugging: one big function, a parser state machine
 * of labels and gotos, the parsed headers in a struct on the stack with a validity
 * flag per header, bit offsets into the packet, match-action tables as hash maps with a
 * separate one-entry "default action" map each, action codes and parameters in a
 * union, and a deparser that writes the (possibly modified) headers back.
 *
 * The P4 program it corresponds to, in outline:
 *
 *   parser:   start -> parse_ethernet -> (etherType 0x0800) parse_ipv4 -> accept
 *             verify(ipv4.version == 4 && ipv4.ihl == 5)  else reject (error code)
 *   control ingress {
 *     acl.apply()       key { ipv4.srcAddr : exact; ipv4.protocol : exact; }
 *                       actions { acl_deny; NoAction; }     default NoAction
 *     if (!drop) ipv4_fwd.apply()
 *                       key { ipv4.dstAddr : exact; }
 *                       actions { set_nexthop(dmac, smac); to_host; drop_pkt; }
 *                       default to_host
 *   }
 *   deparser: emit(ethernet); emit(ipv4) with the IPv4 checksum recomputed
 *
 * set_nexthop rewrites both MAC addresses and decrements the TTL (TTL <= 1: dropped).
 * Verdict: TC_ACT_SHOT if the parser rejected the packet (the error code is counted
 * and left in skb->cb[0]) or an action dropped it, TC_ACT_OK otherwise (non-IPv4
 * frames are accepted untouched).
 *
 * Maps:    ingress_acl, ingress_acl_defaultAction, ingress_ipv4_fwd,
 *          ingress_ipv4_fwd_defaultAction (hash + one-entry arrays, filled by the
 *          control plane), ingress_counters, parser_errors (arrays)
 * Helpers: bpf_map_lookup_elem
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- the usual generated-code prelude --------------------------------------- */
typedef __u8  u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define BYTES(w) ((w) / 8)
#define EBPF_MASK(t, w) ((((t)(1)) << (w)) - (t)1)
/* Big-endian loads from a packet pointer at a byte offset. */
#define load_byte(data, b)  (*(u8 *)((u8 *)(data) + (b)))
#define load_half(data, b)  bpf_ntohs(*(u16 *)((u8 *)(data) + (b)))
#define load_word(data, b)  bpf_ntohl(*(u32 *)((u8 *)(data) + (b)))
#define write_byte(data, b, v) (*((u8 *)(data) + (b)) = (v))
#define write_half(data, b, v) (*(u16 *)((u8 *)(data) + (b)) = bpf_htons(v))
#define write_word(data, b, v) (*(u32 *)((u8 *)(data) + (b)) = bpf_htonl(v))

enum ebpf_errorCodes {
	NoError,
	PacketTooShort,
	NoMatch,
	StackOutOfBounds,
	HeaderTooShort,
	ParserTimeout,
	ParserInvalidArgument,
	IPv4IncorrectVersion,
	IPv4OptionsNotSupported,
};

/* ---- headers ------------------------------------------------------------------ */
struct ethernet_t {
	u64 dstAddr;   /* bit<48> */
	u64 srcAddr;   /* bit<48> */
	u16 etherType; /* bit<16> */
	u8  ebpf_valid;
};

struct ipv4_t {
	u8  version;        /* bit<4> */
	u8  ihl;            /* bit<4> */
	u8  diffserv;       /* bit<8> */
	u16 totalLen;       /* bit<16> */
	u16 identification; /* bit<16> */
	u8  flags;          /* bit<3> */
	u16 fragOffset;     /* bit<13> */
	u8  ttl;            /* bit<8> */
	u8  protocol;       /* bit<8> */
	u16 hdrChecksum;    /* bit<16> */
	u32 srcAddr;        /* bit<32> */
	u32 dstAddr;        /* bit<32> */
	u8  ebpf_valid;
};

struct headers_t {
	struct ethernet_t ethernet;
	struct ipv4_t ipv4;
};

struct metadata_t {
	u8 drop;
	u8 acl_hit;
	u8 fwd_hit;
};

/* ---- tables ------------------------------------------------------------------- */
struct ingress_acl_key {
	u32 field0; /* hdr.ipv4.srcAddr */
	u8  field1; /* hdr.ipv4.protocol */
	u8  pad[3];
} __attribute__((aligned(4)));

enum ingress_acl_actions {
	ingress_acl_NoAction = 0,
	ingress_acl_deny = 1,
};

struct ingress_acl_value {
	u32 action; /* enum ingress_acl_actions */
	union {
		struct {
		} NoAction;
		struct {
			u32 rule_id; /* counted in ingress_counters */
		} acl_deny;
	} u;
};

struct ingress_ipv4_fwd_key {
	u32 field0; /* hdr.ipv4.dstAddr */
} __attribute__((aligned(4)));

enum ingress_ipv4_fwd_actions {
	ingress_ipv4_fwd_to_host = 0,
	ingress_ipv4_fwd_set_nexthop = 1,
	ingress_ipv4_fwd_drop_pkt = 2,
};

struct ingress_ipv4_fwd_value {
	u32 action; /* enum ingress_ipv4_fwd_actions */
	union {
		struct {
		} to_host;
		struct {
			u64 dmac; /* bit<48> */
			u64 smac; /* bit<48> */
		} set_nexthop;
		struct {
		} drop_pkt;
	} u;
};

#define REGISTER_TABLE(NAME, TYPE, KEY, VALUE, SIZE) \
	struct {                                     \
		__uint(type, TYPE);                  \
		__uint(max_entries, SIZE);           \
		__type(key, KEY);                    \
		__type(value, VALUE);                \
	} NAME SEC(".maps")

REGISTER_TABLE(ingress_acl, BPF_MAP_TYPE_HASH, struct ingress_acl_key,
	       struct ingress_acl_value, 1024);
REGISTER_TABLE(ingress_acl_defaultAction, BPF_MAP_TYPE_ARRAY, u32,
	       struct ingress_acl_value, 1);
REGISTER_TABLE(ingress_ipv4_fwd, BPF_MAP_TYPE_HASH, struct ingress_ipv4_fwd_key,
	       struct ingress_ipv4_fwd_value, 1024);
REGISTER_TABLE(ingress_ipv4_fwd_defaultAction, BPF_MAP_TYPE_ARRAY, u32,
	       struct ingress_ipv4_fwd_value, 1);
/* counter(16, CounterType.packets) ingress_counters; indexed by the ACL rule id */
REGISTER_TABLE(ingress_counters, BPF_MAP_TYPE_ARRAY, u32, u64, 16);
/* parser rejects, indexed by enum ebpf_errorCodes */
REGISTER_TABLE(parser_errors, BPF_MAP_TYPE_ARRAY, u32, u64, 16);

SEC("classifier")
int tc_ingress(struct __sk_buff *skb)
{
	void *pkt = (void *)(long)skb->data;
	void *ebpf_packetEnd = (void *)(long)skb->data_end;
	struct headers_t hdr = {
		.ethernet = { .ebpf_valid = 0 },
		.ipv4 = { .ebpf_valid = 0 },
	};
	struct metadata_t meta = {};
	u32 ebpf_packetOffsetInBits = 0;
	u8 ebpf_errorCode = NoError;
	u32 ebpf_zero = 0;

	goto start;

	/* ---- parser ---------------------------------------------------------------- */
start: {
	goto parse_ethernet;
}
parse_ethernet: {
	if (ebpf_packetEnd < pkt + BYTES(ebpf_packetOffsetInBits + 112)) {
		ebpf_errorCode = PacketTooShort;
		goto reject;
	}
	hdr.ethernet.dstAddr = ((u64)load_half(pkt, BYTES(ebpf_packetOffsetInBits)) << 32) |
			       load_word(pkt, BYTES(ebpf_packetOffsetInBits) + 2);
	ebpf_packetOffsetInBits += 48;
	hdr.ethernet.srcAddr = ((u64)load_half(pkt, BYTES(ebpf_packetOffsetInBits)) << 32) |
			       load_word(pkt, BYTES(ebpf_packetOffsetInBits) + 2);
	ebpf_packetOffsetInBits += 48;
	hdr.ethernet.etherType = load_half(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 16;
	hdr.ethernet.ebpf_valid = 1;

	switch (hdr.ethernet.etherType) {
	case 0x0800:
		goto parse_ipv4;
	default:
		goto accept;
	}
}
parse_ipv4: {
	if (ebpf_packetEnd < pkt + BYTES(ebpf_packetOffsetInBits + 160)) {
		ebpf_errorCode = PacketTooShort;
		goto reject;
	}
	hdr.ipv4.version = (load_byte(pkt, BYTES(ebpf_packetOffsetInBits)) >> 4) & EBPF_MASK(u8, 4);
	ebpf_packetOffsetInBits += 4;
	hdr.ipv4.ihl = load_byte(pkt, BYTES(ebpf_packetOffsetInBits)) & EBPF_MASK(u8, 4);
	ebpf_packetOffsetInBits += 4;
	hdr.ipv4.diffserv = load_byte(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 8;
	hdr.ipv4.totalLen = load_half(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 16;
	hdr.ipv4.identification = load_half(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 16;
	hdr.ipv4.flags = (load_byte(pkt, BYTES(ebpf_packetOffsetInBits)) >> 5) & EBPF_MASK(u8, 3);
	ebpf_packetOffsetInBits += 3;
	hdr.ipv4.fragOffset = load_half(pkt, BYTES(ebpf_packetOffsetInBits)) & EBPF_MASK(u16, 13);
	ebpf_packetOffsetInBits += 13;
	hdr.ipv4.ttl = load_byte(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 8;
	hdr.ipv4.protocol = load_byte(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 8;
	hdr.ipv4.hdrChecksum = load_half(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 16;
	hdr.ipv4.srcAddr = load_word(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 32;
	hdr.ipv4.dstAddr = load_word(pkt, BYTES(ebpf_packetOffsetInBits));
	ebpf_packetOffsetInBits += 32;
	hdr.ipv4.ebpf_valid = 1;

	/* verify(hdr.ipv4.version == 4, error.IPv4IncorrectVersion); */
	if (!(hdr.ipv4.version == 4)) {
		ebpf_errorCode = IPv4IncorrectVersion;
		goto reject;
	}
	/* verify(hdr.ipv4.ihl == 5, error.IPv4OptionsNotSupported); */
	if (!(hdr.ipv4.ihl == 5)) {
		ebpf_errorCode = IPv4OptionsNotSupported;
		goto reject;
	}
	goto accept;
}
reject: {
	/* The error is counted per code, and handed to later TC programs in cb[0]. */
	u32 err = ebpf_errorCode;
	u64 *rejects = bpf_map_lookup_elem(&parser_errors, &err);

	if (rejects)
		__sync_fetch_and_add(rejects, 1);
	skb->cb[0] = ebpf_errorCode;
	return TC_ACT_SHOT;
}

	/* ---- control ingress --------------------------------------------------------- */
accept: {
	u8 hit;

	if (hdr.ipv4.ebpf_valid) {
		/* acl.apply() */
		struct ingress_acl_key key = {};
		struct ingress_acl_value *value;

		key.field0 = hdr.ipv4.srcAddr;
		key.field1 = hdr.ipv4.protocol;
		value = bpf_map_lookup_elem(&ingress_acl, &key);
		hit = value != NULL;
		if (value == NULL)
			value = bpf_map_lookup_elem(&ingress_acl_defaultAction, &ebpf_zero);
		meta.acl_hit = hit;
		if (value != NULL) {
			switch (value->action) {
			case ingress_acl_deny: {
				u32 id = value->u.acl_deny.rule_id;
				u64 *cnt = bpf_map_lookup_elem(&ingress_counters, &id);

				if (cnt)
					__sync_fetch_and_add(cnt, 1);
				meta.drop = 1;
			} break;
			case ingress_acl_NoAction:
			default:
				break;
			}
		}
	}

	if (hdr.ipv4.ebpf_valid && !meta.drop) {
		/* ipv4_fwd.apply() */
		struct ingress_ipv4_fwd_key key = {};
		struct ingress_ipv4_fwd_value *value;

		key.field0 = hdr.ipv4.dstAddr;
		value = bpf_map_lookup_elem(&ingress_ipv4_fwd, &key);
		hit = value != NULL;
		if (value == NULL)
			value = bpf_map_lookup_elem(&ingress_ipv4_fwd_defaultAction, &ebpf_zero);
		meta.fwd_hit = hit;
		if (value != NULL) {
			switch (value->action) {
			case ingress_ipv4_fwd_set_nexthop: {
				hdr.ethernet.dstAddr = value->u.set_nexthop.dmac;
				hdr.ethernet.srcAddr = value->u.set_nexthop.smac;
				if (hdr.ipv4.ttl <= 1)
					meta.drop = 1;
				else
					hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
			} break;
			case ingress_ipv4_fwd_drop_pkt: {
				meta.drop = 1;
			} break;
			case ingress_ipv4_fwd_to_host:
			default:
				break;
			}
		}
	}
}

	/* ---- deparser ---------------------------------------------------------------- */
	{
		if (meta.drop)
			return TC_ACT_SHOT;

		ebpf_packetOffsetInBits = 0;
		if (hdr.ethernet.ebpf_valid) {
			if (ebpf_packetEnd < pkt + BYTES(ebpf_packetOffsetInBits + 112))
				return TC_ACT_SHOT;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ethernet.dstAddr >> 32);
			write_word(pkt, BYTES(ebpf_packetOffsetInBits) + 2, (u32)hdr.ethernet.dstAddr);
			ebpf_packetOffsetInBits += 48;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ethernet.srcAddr >> 32);
			write_word(pkt, BYTES(ebpf_packetOffsetInBits) + 2, (u32)hdr.ethernet.srcAddr);
			ebpf_packetOffsetInBits += 48;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ethernet.etherType);
			ebpf_packetOffsetInBits += 16;
		}
		if (hdr.ipv4.ebpf_valid) {
			u32 csum = 0;

			if (ebpf_packetEnd < pkt + BYTES(ebpf_packetOffsetInBits + 160))
				return TC_ACT_SHOT;
			/* update_checksum(hdr.ipv4.isValid(), {...}, hdr.ipv4.hdrChecksum,
			 *                 HashAlgorithm.csum16): the 16-bit words of the header
			 * with the checksum field taken as zero. */
			csum += ((u32)hdr.ipv4.version << 12) | ((u32)hdr.ipv4.ihl << 8) |
				hdr.ipv4.diffserv;
			csum += hdr.ipv4.totalLen;
			csum += hdr.ipv4.identification;
			csum += ((u32)hdr.ipv4.flags << 13) | hdr.ipv4.fragOffset;
			csum += ((u32)hdr.ipv4.ttl << 8) | hdr.ipv4.protocol;
			csum += hdr.ipv4.srcAddr >> 16;
			csum += hdr.ipv4.srcAddr & 0xffff;
			csum += hdr.ipv4.dstAddr >> 16;
			csum += hdr.ipv4.dstAddr & 0xffff;
			csum = (csum & 0xffff) + (csum >> 16);
			csum = (csum & 0xffff) + (csum >> 16);
			hdr.ipv4.hdrChecksum = ~csum & 0xffff;

			write_byte(pkt, BYTES(ebpf_packetOffsetInBits),
				   (hdr.ipv4.version << 4) | hdr.ipv4.ihl);
			ebpf_packetOffsetInBits += 8;
			write_byte(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.diffserv);
			ebpf_packetOffsetInBits += 8;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.totalLen);
			ebpf_packetOffsetInBits += 16;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.identification);
			ebpf_packetOffsetInBits += 16;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits),
				   (hdr.ipv4.flags << 13) | hdr.ipv4.fragOffset);
			ebpf_packetOffsetInBits += 16;
			write_byte(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.ttl);
			ebpf_packetOffsetInBits += 8;
			write_byte(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.protocol);
			ebpf_packetOffsetInBits += 8;
			write_half(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.hdrChecksum);
			ebpf_packetOffsetInBits += 16;
			write_word(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.srcAddr);
			ebpf_packetOffsetInBits += 32;
			write_word(pkt, BYTES(ebpf_packetOffsetInBits), hdr.ipv4.dstAddr);
			ebpf_packetOffsetInBits += 32;
		}
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
