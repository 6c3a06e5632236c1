/*
 * testutil.c — see testutil.h.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tu_list(const char *dir, const char *suffix, char ***paths)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0, cap = 64;
	char **v = malloc(cap * sizeof(*v));
	struct dirent *e;
	size_t sl = strlen(suffix);
	while (v && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < sl || strcmp(e->d_name + l - sl, suffix) || e->d_name[0] == '.')
			continue;
		if (n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		if (v && asprintf(&v[n], "%s/%s", dir, e->d_name) >= 0)
			n++;
	}
	closedir(d);
	if (!v)
		return -1;
	qsort(v, n, sizeof(*v), cmp_str);
	*paths = v;
	return n;
}

void tu_free_list(char **paths, int n)
{
	for (int i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

struct sink {
	char *buf;
	size_t len, cap;
};

static void sink_add(struct sink *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

int tu_run(char *const argv[], const char *stdin_text, char **out, char **err, int *status)
{
	int in[2], o[2], e[2];
	if (pipe(in) || pipe(o) || pipe(e))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(in[0]); close(in[1]); close(o[0]); close(o[1]); close(e[0]); close(e[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	close(e[1]);
	signal(SIGPIPE, SIG_IGN);
	size_t inlen = stdin_text ? strlen(stdin_text) : 0, inoff = 0;
	if (!inlen) {
		close(in[1]);
		in[1] = -1;
	}
	struct sink so = { 0 }, se = { 0 };
	sink_add(&so, "", 0);
	sink_add(&se, "", 0);
	int open_fds = 2;
	while (open_fds || in[1] >= 0) {
		struct pollfd p[3] = { { o[0], POLLIN, 0 }, { e[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				char b[4096];
				ssize_t r = read(p[i].fd, b, sizeof(b));
				if (r <= 0) {
					close(p[i].fd);
					if (i == 0) o[0] = -1; else e[0] = -1;
					open_fds--;
				} else {
					sink_add(i == 0 ? &so : &se, b, (size_t)r);
				}
			}
		}
		if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in[1], stdin_text + inoff, inlen - inoff);
			if (w <= 0 || (inoff += (size_t)w) == inlen) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	*out = so.buf;
	*err = se.buf;
	return 0;
}

char *tu_hex(const void *p, size_t n)
{
	char *s = malloc(n * 4 + 1);
	if (!s)
		return NULL;
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		sprintf(s + 4 * i, "%02x  ", b[i]);
	s[n * 4] = '\0';
	return s;
}

int tu_load_data(const char *path, struct datafile *df, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int e = df_read_file(path, &text, &len);
	if (e) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return -1;
	}
	/* "-- SECTION @ FILE": the section's text is in FILE, beside the data file */
	char *inc;
	while ((inc = strstr(text, " @ ")) != NULL) {
		char *bol = inc;
		while (bol > text && bol[-1] != '\n')
			bol--;
		char name[256], *dir, *full = NULL, *body = NULL, *joined = NULL;
		char *eol = strchr(inc, '\n');
		if (strncmp(bol, "-- ", 3) || sscanf(inc + 3, "%255s", name) != 1)
			break;
		dir = strdup(path);
		char *slash = strrchr(dir, '/');
		if (slash) *slash = '\0'; else strcpy(dir, ".");
		bool ok = asprintf(&full, "%s/%s", dir, name) >= 0 && !df_read_file(full, &body, &len);
		if (ok) {
			*inc = '\0';
			ok = asprintf(&joined, "%s\n%s\n%s", text, body, eol ? eol + 1 : "") >= 0;
		}
		free(dir);
		free(full);
		free(body);
		if (!ok) {
			snprintf(err, errlen, "%s: cannot include '%s'", path, name);
			free(text);
			return -1;
		}
		free(text);
		text = joined;
	}
	int rc = df_parse(text, df, err, errlen);
	free(text);
	return rc;
}

void tu_known_load(struct tu_known_list *l, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	char line[2048];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = 0;
		char *a = strtok(line, "\t"), *b = strtok(NULL, "\t"), *c = strtok(NULL, "");
		if (!a || !b)
			continue;
		struct tu_known *v = realloc(l->v, (l->n + 1) * sizeof(*v));
		if (!v)
			exit(2);
		l->v = v;
		l->v[l->n++] = (struct tu_known){ strdup(a), strdup(b), strdup(c ? c : ""), 0 };
	}
	fclose(f);
}

struct tu_known *tu_known_find(struct tu_known_list *l, const char *a, const char *b)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].a, a) && !strcmp(l->v[i].b, b))
			return &l->v[i];
	return NULL;
}

void tu_log_last_line(char *log, char *buf, size_t len)
{
	buf[0] = 0;
	if (!log)
		return;
	size_t l = strlen(log);
	while (l && log[l - 1] == '\n')
		log[--l] = 0;
	const char *last = strrchr(log, '\n');
	snprintf(buf, len, "%s", last ? last + 1 : log);
}
