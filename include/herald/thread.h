/*
 * thread -- what the background threads of the services share: running below the
 * threads that serve and sign (the read server's compressor, the signer's).
 */
#ifndef HERALD_THREAD_H
#define HERALD_THREAD_H

/* Lowers the calling thread's priority to nice 'nice' (Linux: the nice value is per
 * thread, set on its tid; elsewhere nothing). A failure is logged at debug level as
 * '<who>: setpriority: ...': the thread just runs at the usual priority. */
void herald_thread_background(int nice, const char *who);

#endif
