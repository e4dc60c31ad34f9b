// Process titles (auto-procname, procname*): the title is written over the
// memory of the original argv strings, which is what ps shows. Go's os.Args
// strings point into that memory, so callers copy what they still need
// before the first title is set.
#include <string.h>

static char *title_start;
static size_t title_len;

// gosgi_save_argv is called first thing by the process constructor
// (zygote.c): one constructor, so the order is fixed.
void gosgi_save_argv(int argc, char **argv) {
	if (argc <= 0 || !argv || !argv[0]) return;
	char *end = argv[argc - 1] + strlen(argv[argc - 1]);
	title_start = argv[0];
	title_len = (size_t)(end - title_start);
}

void gosgi_set_title(const char *title) {
	if (!title_start || title_len == 0) return;
	size_t n = strlen(title);
	if (n > title_len) n = title_len;
	memcpy(title_start, title, n);
	memset(title_start + n, 0, title_len - n);
}
