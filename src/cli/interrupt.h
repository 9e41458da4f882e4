/* SIGINT for long commands: the first Ctrl-C asks the command to stop at the
 * next safe point (interrupt_requested() turns true); the second exits at
 * once with status 130, without writing anything. */
#ifndef LAMINA_CLI_INTERRUPT_H
#define LAMINA_CLI_INTERRUPT_H

void interrupt_install(void);
int interrupt_requested(void);

#endif
