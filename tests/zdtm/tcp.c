/*
 * tcp: a TCP connection to a server outside the tree comes back closed, and
 * the program connects again, as an app does after a network outage.
 *
 * The program connects to the echo server on loopback port ZDTM_TCP_PORT
 * (the harness runs it outside the session).  On SIGUSR1 it sends a byte
 * and reads the echo; when the connection is closed (as after a restore:
 * xckpt has CRIU restore established TCP connections closed), it connects
 * again and retries once.  It writes the number of reconnections to
 * STATEDIR/value.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The connection (-1 when dropped). */
static int fd = -1;
/* The server's address. */
static struct sockaddr_in server;
/* How often the connection was made again. */
static int reconnects;
/* The reason of the last failure (static, for zdtm_loop). */
static char why[256];

/* Connects to the server.  Returns 0 or -1. */
static int connect_server(void)
{
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	return connect(fd, (struct sockaddr *)&server, sizeof(server));
}

/* Sends a byte and reads its echo, waiting 2 s at most.  Returns 0 or -1. */
static int exchange(void)
{
	char c = 'x', d = 0;
	struct timeval tv = { 2, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
		return -1;
	return recv(fd, &d, 1, 0) == 1 && d == c ? 0 : -1;
}

/* Checks the connection, making it again once if it was closed. */
static const char *check(void)
{
	if (exchange() < 0) {
		close(fd);
		if (connect_server() < 0) {
			snprintf(why, sizeof(why), "cannot connect again: %s",
				 strerror(errno));
			return why;
		}
		reconnects++;
		if (exchange() < 0) {
			snprintf(why, sizeof(why), "the new connection does not work");
			return why;
		}
	}
	zdtm_put("value", "%d\n", reconnects);
	return NULL;
}

/* Connects to the server and waits for checks. */
int main(int argc, char **argv)
{
	const char *port = getenv("ZDTM_TCP_PORT");

	zdtm_init(argc, argv);
	if (!port) {
		fprintf(stderr, "tcp: ZDTM_TCP_PORT is not set\n");
		return 2;
	}
	server.sin_family = AF_INET;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	server.sin_port = htons((unsigned short)atoi(port));
	if (connect_server() < 0 || exchange() < 0)
		zdtm_die("connect");
	zdtm_ready();
	zdtm_loop(check, NULL);
	return 0;
}
