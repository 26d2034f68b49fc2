// A reactor in C (see CFLAGS): tekton_run reads the request, counts its
// calls in a global and answers with the count and the request's length.
// A fresh instance always reports one call.
#include <stdio.h>

static int calls;

__attribute__((export_name("tekton_run"))) void tekton_run(void) {
	char buf[4096];
	size_t n, len = 0;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
		len += n;
	}
	calls++;
	printf("{\"status\":\"Succeeded\",\"results\":[{\"name\":\"calls\",\"value\":\"%d\"},{\"name\":\"length\",\"value\":\"%zu\"}]}\n", calls, len);
	fflush(stdout); // a reactor's exit handlers never run
}
