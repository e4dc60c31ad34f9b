# Answers the worker's identity and capability sets, as /proc/self/status
# shows them (OP-81 `cap` tests).
def application(environ, start_response):
    with open('/proc/self/status') as f:
        lines = [l for l in f if l.startswith(('Uid:', 'Gid:', 'CapInh:', 'CapPrm:', 'CapEff:', 'CapAmb:'))]
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [''.join(lines).encode()]
