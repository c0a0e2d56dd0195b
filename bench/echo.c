/*
 * echo.c - the floor under bench/paced.py: what one unbatched round trip costs a server on this
 * machine when the server does nothing else. An epoll loop on a Unix socket that answers every
 * readable event with one fixed 19-byte answer frame (one epoll_wait, one recv, one send per
 * request, as hmacd does), without parsing. Takes hmacd's arguments and uses only --socket.
 * Not built by make:
 *
 *   cc -O2 -o /tmp/echo bench/echo.c && /usr/bin/python3 bench/paced.py --hmacd /tmp/echo
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char answer[19] = "\0\0\0\17\202\242id\1\247results\221\2";
	static char buf[65536];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN}, evs[32];
	const char *path = NULL;
	int l, ep;

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--socket") == 0)
			path = argv[i + 1];
	if (path == NULL || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: echo --socket PATH [ignored hmacd arguments]\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (l < 0 || ep < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 64) != 0) {
		perror("echo");
		return 1;
	}
	ev.data.fd = l;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) != 0)
		return 1;
	for (;;) {
		int n = epoll_wait(ep, evs, 32, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == l) {
				int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				ev.data.fd = c;
				if (c >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) != 0)
					close(c);
				continue;
			}
			if (recv(fd, buf, sizeof(buf), 0) <= 0 ||
			    send(fd, answer, sizeof(answer), MSG_NOSIGNAL) != (ssize_t)sizeof(answer))
				close(fd); /* closing removes it from the epoll set */
		}
	}
}
