/* Outpost: pppd 2.4.9's own PPPoE plugin linked into the static pppd
 * (a static musl pppd cannot dlopen pppoe.so). This file is compiled in
 * pppd/plugins/pppoe/ beside the plugin's sources, which stay unmodified:
 * it includes plugin.c and registers the plugin's option table (with its
 * device-name hook, `nic-eth1`) before pppd parses its command line, which
 * is what plugin_init does once dlopen has loaded pppoe.so. plugin_init's
 * check for kernel PPP support is left to pppd itself, which makes it
 * again before it opens a channel. */
#include "plugin.c"

__attribute__((constructor)) static void outpost_pppoe_static(void)
{
    add_options(Options);
}
