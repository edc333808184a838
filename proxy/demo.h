/* `deltawire demo`: a first run without an API key. Starts deltawire-mock and a deltawire on
 * ephemeral loopback ports, drives a scripted multi-turn agent session through the proxy the way a
 * stateless client does (the whole history every turn), and prints what each turn cost. */
#ifndef DW_DEMO_H
#define DW_DEMO_H

/* argv after "demo". Returns the process exit code. */
int dw_demo_main(int argc, char **argv);

#endif
