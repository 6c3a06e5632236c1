/*
 * trace_btf.c — a library built with BTF (gcc -gbtf): test_trace.c loads it
 * and attaches fexit programs without giving the argument count, which
 * then comes from the library's .BTF.
 */
struct pair {
	long a, b;
};
long btf_add3(long a, int b, char c);
long btf_pair(struct pair p, long k);
double btf_dbl(double x, long y);

long btf_add3(long a, int b, char c)
{
	return a + b + c;
}

long btf_pair(struct pair p, long k)
{
	return p.a * k + p.b;
}

double btf_dbl(double x, long y)
{
	return x * (double)y;
}
