/*
 * replay.c — replays a fuzz corpus through the fuzz target without
 * libFuzzer, for `make check` (a crash fails the run).
 *
 *   fuzz_replay DIR...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int main(int argc, char **argv)
{
	int files = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			fprintf(stderr, "FAIL cannot open %s\n", argv[i]);
			failed++;
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *path;
			if (asprintf(&path, "%s/%s", argv[i], e->d_name) < 0)
				continue;
			FILE *f = fopen(path, "rb");
			if (f) {
				unsigned char *buf = malloc(1 << 20);
				size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
				fclose(f);
				if (buf) {
					LLVMFuzzerTestOneInput(buf, n);
					files++;
				}
				free(buf);
			}
			free(path);
		}
		closedir(d);
	}
	printf("fuzz corpus: %d passed, %d failed\n", files, failed);
	return failed != 0;
}
