/*
 * ptypair: a child holding both ends of a pty pair keeps its settings and
 * the data in flight.
 *
 * A child opens a pty pair (posix_openpt, grantpt, unlockpt, open of the
 * slave), sets non-default termios on the slave (raw-ish: no echo, no
 * canonical mode, no signals, no output processing; VMIN 5, VTIME 3; 9600
 * baud), a window size, and writes a known string into the master (unread,
 * in flight toward the slave) and another into the slave (in flight toward
 * the master).  The parent forwards SIGUSR1 and SIGTERM to the child.  On a
 * check the child verifies the termios, TIOCGWINSZ and both strings, then
 * writes them again for the next cycle.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

static const char to_slave[] = "zdtm ptypair: in flight to the slave\n";
static const char to_master[] = "zdtm ptypair: in flight to the master";
/* The pty ends, the settings set (as the kernel reports them), the size. */
static int master, slave;
static struct termios want;
static struct winsize size = { 37, 123, 999, 555 };
/* The reason of the last failure. */
static char why[256];

/* Reads exactly strlen(MSG) bytes from FD (waiting up to 2 s) and checks
 * them and that nothing follows.  Returns NULL or the failure. */
static const char *expect(int fd, const char *msg, const char *end)
{
	char buf[128];
	size_t len = strlen(msg), got = 0;
	struct pollfd p = { fd, POLLIN, 0 };
	int left = -1;
	ssize_t n;

	while (got < len && poll(&p, 1, 2000) > 0) {
		n = read(fd, buf + got, len - got);
		if (n <= 0 && errno != EAGAIN && errno != EINTR)
			break;
		got += n > 0 ? (size_t)n : 0;
	}
	if (got != len || memcmp(buf, msg, len)) {
		snprintf(why, sizeof(why), "%s read %zu bytes '%.*s', expected '%s'", end,
			 got, (int)got, buf, msg);
		return why;
	}
	if (ioctl(fd, FIONREAD, &left) < 0 || left != 0) {
		snprintf(why, sizeof(why), "%s: %d more bytes queued", end, left);
		return why;
	}
	return NULL;
}

/* Puts both strings in flight. */
static void fill(void)
{
	if (write(master, to_slave, strlen(to_slave)) < 0 ||
	    write(slave, to_master, strlen(to_master)) < 0)
		zdtm_die("write to the pty");
}

/* Checks the slave's settings and size and both strings; refills. */
static const char *check(void)
{
	struct termios t;
	struct winsize ws;
	const char *r;

	if (tcgetattr(slave, &t) < 0)
		return "tcgetattr failed";
	if (t.c_iflag != want.c_iflag || t.c_oflag != want.c_oflag ||
	    t.c_cflag != want.c_cflag || t.c_lflag != want.c_lflag ||
	    memcmp(t.c_cc, want.c_cc, sizeof(t.c_cc)) ||
	    cfgetispeed(&t) != B9600 || cfgetospeed(&t) != B9600) {
		snprintf(why, sizeof(why), "termios: lflag %#x VMIN %d VTIME %d cflag %#x, "
			 "expected %#x %d %d %#x", t.c_lflag, t.c_cc[VMIN], t.c_cc[VTIME],
			 t.c_cflag, want.c_lflag, want.c_cc[VMIN], want.c_cc[VTIME],
			 want.c_cflag);
		return why;
	}
	if (ioctl(slave, TIOCGWINSZ, &ws) < 0 || ws.ws_row != size.ws_row ||
	    ws.ws_col != size.ws_col || ws.ws_xpixel != size.ws_xpixel ||
	    ws.ws_ypixel != size.ws_ypixel) {
		snprintf(why, sizeof(why), "window size %dx%d, expected %dx%d", ws.ws_col,
			 ws.ws_row, size.ws_col, size.ws_row);
		return why;
	}
	if ((r = expect(slave, to_slave, "slave")) || (r = expect(master, to_master, "master")))
		return r;
	fill();
	return NULL;
}

/* The child: opens and sets up the pty, tells SYNC, waits for checks. */
static void child(int sync)
{
	struct termios t;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		zdtm_die("posix_openpt");
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (slave < 0 || tcgetattr(slave, &t) < 0)
		zdtm_die("open the pty slave");
	t.c_iflag &= ~(ICRNL | IXON | BRKINT | INPCK | ISTRIP);
	t.c_oflag &= ~OPOST;
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cc[VMIN] = 5;
	t.c_cc[VTIME] = 3;
	cfsetispeed(&t, B9600);
	cfsetospeed(&t, B9600);
	if (tcsetattr(slave, TCSANOW, &t) < 0 || tcgetattr(slave, &want) < 0 ||
	    ioctl(master, TIOCSWINSZ, &size) < 0)
		zdtm_die("set the pty up");
	fcntl(master, F_SETFL, O_NONBLOCK);
	fcntl(slave, F_SETFL, O_NONBLOCK);
	fill();
	if (write(sync, "y", 1) != 1)
		zdtm_die("sync");
	close(sync);
	zdtm_loop(check, NULL);
	_exit(0);
}

/* Starts the child, announces readiness, forwards signals to it. */
int main(int argc, char **argv)
{
	int s[2], st;
	char c;
	pid_t pid;

	zdtm_init(argc, argv);
	if (pipe(s) < 0)
		zdtm_die("pipe");
	pid = fork();
	if (pid < 0)
		zdtm_die("fork");
	if (pid == 0) {
		close(s[0]);
		child(s[1]);
	}
	close(s[1]);
	if (read(s[0], &c, 1) != 1)
		zdtm_die("the child did not set up");
	close(s[0]);
	zdtm_ready();
	while (!zdtm_term) {
		if (zdtm_usr1) {
			zdtm_usr1 = 0;
			kill(pid, SIGUSR1);
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			zdtm_result("the pty child died");
			return 1;
		}
		zdtm_sleep(10);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return 0;
}
