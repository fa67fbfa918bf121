#!/usr/bin/perl
# scripts/corpus-extract.pl — turns text that Debian packages ship into
# one-document-per-line files for `runs tokenizer --lines` (helper of build-corpus.sh).
#
# usage: corpus-extract.pl KIND CAP_BYTES [INPUT...]   (writes to stdout)
# Every document is written on one line with "\" -> "\\", newline -> "\n", tab -> "\t";
# control characters and overstrike sequences are removed. Output stops before the
# document that would pass CAP_BYTES. Inputs are read in the order given (the caller
# sorts them), so the output depends only on the installed files.
#
# KIND:
#   quotes      fortune files (% separated): every fortune that is not Q/A dialogue
#   fortune-qa  fortune files: fortunes with "Q:" and "A:" lines -> "> Q / < A" turns
#   whatis-qa   `lexgrog` lines (man sections 1 and 8) -> "> What does X do? / < ..." turns,
#               three phrasings per command
#   jargon      the Jargon File as text: paragraphs of at least 80 characters
#   wordnet     WordNet data.* files: "word, synonym (pos.): gloss", every 3rd synset
#   manpages    man page source files, rendered with man -l (each page at most 16 KB)
#   changelogs  changelog.Debian.gz files: the 3 newest entries of each, no trailers
#   headers     C headers: /* block comments */ of 60+ characters, licence text skipped
use strict;
use warnings;

my ($kind, $cap, @inputs) = @ARGV;
die "usage: corpus-extract.pl KIND CAP_BYTES [INPUT...]\n" unless defined $cap && $cap =~ /^\d+$/;
binmode STDOUT;
my $written = 0;
my $full = 0;

sub clean {
    my ($s) = @_;
    1 while $s =~ s/[^\x08]\x08//g;    # overstrike: "X\bX" and "_\bX"
    $s =~ s/\r\n?/\n/g;
    $s =~ s/[\x00-\x08\x0b-\x1f\x7f]//g;
    $s =~ s/[ \t]+\n/\n/g;             # trailing blanks
    $s =~ s/\n{3,}/\n\n/g;
    $s =~ s/^\s*\n//;                  # leading blank lines (keeps the first line's indent)
    $s =~ s/\s+$//;
    return $s;
}

sub emit {
    my ($doc) = @_;
    return if $full;
    $doc = clean($doc);
    return if $doc eq '';
    $doc =~ s/\\/\\\\/g;
    $doc =~ s/\n/\\n/g;
    $doc =~ s/\t/\\t/g;
    my $n = length($doc) + 1;
    if ($written + $n > $cap) { $full = 1; return; }
    print $doc, "\n";
    $written += $n;
}

sub slurp {
    my ($path) = @_;
    my $fh;
    if ($path =~ /\.gz$/) { open($fh, '-|', 'gzip', '-dc', $path) or return ''; }
    else { open($fh, '<', $path) or return ''; }
    binmode $fh;
    local $/;
    my $s = <$fh>;
    close $fh;
    return defined $s ? $s : '';
}

sub fortunes {
    my @all;
    for my $f (@inputs) {
        push @all, grep { /\S/ } split /^%\s*$/m, slurp($f);
    }
    return @all;
}

sub qa_turns {    # a fortune -> (questions, answers) when it is Q/A dialogue
    my ($text) = @_;
    my (@q, @a, $cur);
    for my $line (split /\n/, $text) {
        if ($line =~ /^\s*Q[:.]\s*(.*)$/) { push @q, $1; $cur = \$q[-1]; next; }
        if ($line =~ /^\s*A[:.]\s*(.*)$/) { push @a, $1; $cur = \$a[-1]; next; }
        if (defined $cur && $line =~ /^\s*(\S.*)$/) { $$cur .= " $1"; next; }    # continuation
        undef $cur;
    }
    return (\@q, \@a);
}

if ($kind eq 'quotes') {
    for my $f (fortunes()) {
        my ($q, $a) = qa_turns($f);
        next if @$q && @$a;
        emit($f);
    }
} elsif ($kind eq 'fortune-qa') {
    for my $f (fortunes()) {
        my ($q, $a) = qa_turns($f);
        next unless @$q && @$q == @$a;
        my @turns;
        for my $i (0 .. $#$q) {
            s/\s+/ /g for $q->[$i], $a->[$i];
            push @turns, "> $q->[$i]", "< $a->[$i]";
        }
        my $line = join(' / ', @turns);
        emit($line);
    }
} elsif ($kind eq 'whatis-qa') {
    my @forms = (
        sub { "> What does the $_[0] command do? / < $_[0] is used to $_[1]." },
        sub { "> What is $_[0] for? / < The $_[0] command: $_[1]." },
        sub { "> Which command would I use to $_[1]? / < Try $_[0] (see man $_[2] $_[0])." },
    );
    for my $f (@inputs) {
        for my $line (split /\n/, slurp($f)) {
            # lexgrog output: /usr/share/man/man1/ls.1.gz: "ls - list directory contents"
            next unless $line =~ m{/man([18])/[^/]+: "([^"]+?) - (.+)"$};
            my ($sec, $names, $desc) = ($1, $2, $3);
            my ($name) = split /,\s*/, $names;
            next if length($desc) < 12 || $desc =~ /unknown subject/;
            $desc =~ s/\.$//;
            my $d = lcfirst $desc;
            emit($_->($name, $d, $sec)) for @forms;
        }
    }
} elsif ($kind eq 'jargon') {
    for my $f (@inputs) {
        for my $p (split /\n\s*\n/, slurp($f)) {
            $p =~ s/^\s+//mg;
            $p =~ s/\n/ /g;
            $p =~ s/\s+/ /g;
            emit($p) if length($p) >= 80;
        }
    }
} elsif ($kind eq 'wordnet') {
    my %pos = (n => 'n.', v => 'v.', a => 'adj.', s => 'adj.', r => 'adv.');
    my $per_file = int($cap / (@inputs || 1));
    for my $f (@inputs) {
        my ($k, $used) = (0, 0);
        for my $line (split /\n/, slurp($f)) {
            next if $line =~ /^  /;    # licence header
            next if $k++ % 3;
            my ($head, $gloss) = split /\s\|\s/, $line, 2;
            next unless defined $gloss;
            my @f = split / /, $head;
            my $n = hex($f[3]);
            my @words = map { my $w = $f[4 + 2 * $_]; $w =~ s/_/ /g; $w =~ s/\(.*\)$//; $w } 0 .. $n - 1;
            $gloss =~ s/\s+$//;
            my $doc = join(', ', @words) . " ($pos{$f[2]}): $gloss";
            last if $used + length($doc) + 1 > $per_file;
            $used += length($doc) + 1;
            emit($doc);
        }
    }
} elsif ($kind eq 'manpages') {
    $ENV{MANWIDTH} = 80;
    $ENV{MAN_KEEP_FORMATTING} = '';
    $ENV{LC_ALL} = 'C.UTF-8';    # real UTF-8 dashes and quotes, not "\xe2..." escapes
    for my $f (@inputs) {
        last if $full;
        open(my $fh, '-|', "man --nh --nj -l -E UTF-8 -P cat '$f' 2>/dev/null") or next;
        binmode $fh;
        local $/;
        my $page = <$fh>;
        close $fh;
        next unless defined $page;
        $page = clean($page);
        $page = substr($page, 0, rindex(substr($page, 0, 16384), "\n\n")) if length($page) > 16384;
        emit($page);
    }
} elsif ($kind eq 'changelogs') {
    for my $f (@inputs) {
        my $n = 0;
        my $entry = '';
        for my $line (split /\n/, slurp($f)) {
            if ($line =~ /^(\S+) \(([^)]+)\)/) { $entry = "$1 ($2):\n"; next; }
            if ($line =~ /^ -- /) {
                emit($entry) if length($entry) > 40;
                $entry = '';
                last if ++$n >= 3;
                next;
            }
            $entry .= "$line\n" if $entry ne '';
        }
    }
} elsif ($kind eq 'headers') {
    for my $f (@inputs) {
        my $src = slurp($f);
        while ($src =~ m{/\*(.*?)\*/}sg) {
            my $c = $1;
            next if $c =~ /Copyright|WITHOUT ANY WARRANTY|License|SPDX/i;
            $c =~ s/^[ \t]*\*+[ \t]?//mg;
            $c =~ s/^\s+|\s+$//g;
            next if length($c) < 60;
            emit($c);
        }
    }
} else {
    die "corpus-extract.pl: unknown KIND '$kind'\n";
}
