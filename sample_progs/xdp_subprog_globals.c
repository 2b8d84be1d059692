// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_subprog_globals.c - bpf-to-bpf function calls and global variables.
 *
 * A small IPv4 port blocker written the way larger programs are: split into real
 * functions (marked __noinline so clang keeps them as separate BPF subprograms, called
 * with `call` and returning with `exit`, each with its own 512-byte stack frame) and
 * configured through global variables, which libbpf turns into one-element array maps:
 *
 *   .rodata  `const volatile` config and a constant table: read-only for the program,
 *            set by the loader before load (cfg_min_ttl, cfg_sample_every,
 *            blocked_ports[])
 *   .data    initialised globals the program may change (verdict_on_block, reason)
 *   .bss     zero-initialised globals: counters and the last blocked flow
 *
 * Call graph (three levels below the entry point):
 *
 *   xdp_port_blocker
 *     -> parse_ipv4()          fills a struct flow on the caller's stack
 *     -> classify()            -> ttl_too_low()
 *                              -> port_is_blocked() -> port_in_table()
 *     -> flow_hash()           a *global* function: verified on its own, with only its
 *                              argument types known, which is why it takes scalars
 *
 * A flow whose destination port is in blocked_ports[] or whose TTL is below cfg_min_ttl
 * gets `verdict_on_block` (XDP_DROP); everything else passes. Every cfg_sample_every-th
 * flow hash bucket is counted as "sampled".
 *
 * Maps:    .rodata, .data, .bss (global data, created by the loader)
 * Helpers: none: globals are reached with a direct map-value address (ld_imm64 with
 *          BPF_PSEUDO_MAP_VALUE), no lookup needed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- .rodata ---------------------------------------------------------------- */
const volatile __u8 cfg_min_ttl = 2;
const volatile __u32 cfg_sample_every = 4;
/* Telnet, MS RPC, SMB, RDP. */
const volatile __u16 blocked_ports[4] = { 23, 135, 445, 3389 };

/* ---- .data ------------------------------------------------------------------ */
__u32 verdict_on_block = XDP_DROP;
char reason[8] = "none";

/* ---- .bss ------------------------------------------------------------------- */
__u64 pkts_seen;
__u64 pkts_blocked;
__u64 pkts_low_ttl;
__u64 pkts_sampled;
struct {
	__be32 saddr;
	__u16  dport; /* host byte order */
	__u8   proto;
	__u8   pad;
} last_blocked;

struct flow {
	__be32 saddr;
	__be32 daddr;
	__u16  sport; /* host byte order, 0 if the protocol has no ports */
	__u16  dport;
	__u8   proto;
	__u8   ttl;
	__u16  pad;
};

enum verdict {
	V_PASS = 0,
	V_BLOCK_PORT = 1,
	V_BLOCK_TTL = 2,
};

/* Level 3: linear search of the constant table. */
static __noinline int port_in_table(__u16 port)
{
	int i;

	for (i = 0; i < 4; i++)
		if (blocked_ports[i] == port)
			return 1;
	return 0;
}

/* Level 2. */
static __noinline int port_is_blocked(__u8 proto, __u16 port)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	return port_in_table(port);
}

/* Level 2. */
static __noinline int ttl_too_low(__u8 ttl)
{
	return ttl < cfg_min_ttl;
}

/* Level 1: a pointer to the caller's stack is a valid argument. */
static __noinline int classify(const struct flow *fl)
{
	if (ttl_too_low(fl->ttl))
		return V_BLOCK_TTL;
	if (port_is_blocked(fl->proto, fl->dport))
		return V_BLOCK_PORT;
	return V_PASS;
}

/* Level 1: fills *fl from the packet. Returns 0 on success, -1 if not IPv4 or short. */
static __noinline int parse_ipv4(struct xdp_md *ctx, struct flow *fl)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u16 *ports;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	if (iph->ihl < 5)
		return -1;
	fl->saddr = iph->saddr;
	fl->daddr = iph->daddr;
	fl->proto = iph->protocol;
	fl->ttl = iph->ttl;
	fl->sport = 0;
	fl->dport = 0;
	if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
		ports = (void *)iph + iph->ihl * 4;
		if ((void *)(ports + 2) > data_end)
			return -1;
		fl->sport = bpf_ntohs(ports[0]);
		fl->dport = bpf_ntohs(ports[1]);
	}
	return 0;
}

/* A global (non-static) function. The verifier checks it once, independently of its
 * callers, assuming nothing about the arguments beyond their BTF types. */
__noinline __u32 flow_hash(__u32 saddr, __u32 daddr, __u32 ports)
{
	__u32 h = saddr * 0x9e3779b1u;

	h ^= daddr + 0x7f4a7c15u + (h << 6) + (h >> 2);
	h ^= ports + 0x7f4a7c15u + (h << 6) + (h >> 2);
	return h;
}

SEC("xdp")
int xdp_port_blocker(struct xdp_md *ctx)
{
	struct flow fl = {};
	int verdict;

	pkts_seen++;
	if (parse_ipv4(ctx, &fl))
		return XDP_PASS;

	if (cfg_sample_every &&
	    flow_hash(fl.saddr, fl.daddr, ((__u32)fl.sport << 16) | fl.dport) % cfg_sample_every == 0)
		pkts_sampled++;

	verdict = classify(&fl);
	if (verdict == V_PASS)
		return XDP_PASS;

	if (verdict == V_BLOCK_TTL) {
		pkts_low_ttl++;
		__builtin_memcpy(reason, "ttl", 4);
	} else {
		__builtin_memcpy(reason, "port", 5);
	}
	pkts_blocked++;
	last_blocked.saddr = fl.saddr;
	last_blocked.dport = fl.dport;
	last_blocked.proto = fl.proto;
	return verdict_on_block;
}

char LICENSE[] SEC("license") = "GPL";
