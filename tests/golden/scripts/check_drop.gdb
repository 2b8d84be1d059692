# sourced by scripting.cmds: a reusable check
run
expect action XDP_DROP
