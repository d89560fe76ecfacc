#!/usr/bin/perl
# slowread.pl PORT PATH RATE OUT [SECONDS]: a deliberately slow HTTP/1.1 client for the shutdown
# tests. Its receive buffer is set to 8 KB before connecting, so the kernel holds little
# of a large response on its side and the server keeps most of it in its own queue; it
# reads at most RATE bytes per second, for at most SECONDS (60). Writes the body to OUT and prints
# "STATUS RECEIVED CONTENT-LENGTH" (a short body: RECEIVED < CONTENT-LENGTH).
# Perl, because the Debian base system always has it and curl cannot set SO_RCVBUF.
use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use Time::HiRes qw(sleep time);

my ($port, $path, $rate, $out, $secs) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', 8192)) or die "setsockopt: $!";
connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
syswrite($s, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") or die "write: $!";

my $chunk = 16384;
my ($buf, $head, $status, $clen) = ('', undef, 0, -1);
open(my $fh, '>:raw', $out) or die "$out: $!";
my ($got, $deadline) = (0, time + ($secs // 60));
while (time < $deadline) {
    my $n = sysread($s, my $data, $chunk);
    last if !defined $n || $n == 0;
    if (!defined $head) {
        $buf .= $data;
        my $end = index($buf, "\r\n\r\n");
        next if $end < 0;
        $head = substr($buf, 0, $end);
        ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};
        ($clen) = $head =~ m{\r\nContent-Length: *(\d+)}i;
        $data = substr($buf, $end + 4);
    }
    print $fh $data;
    $got += length $data;
    sleep($n / $rate);
}
close($fh);
printf "%s %d %s\n", $status // 0, $got, $clen // -1;
