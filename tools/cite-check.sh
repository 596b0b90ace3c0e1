#!/bin/sh
# cite-check.sh [ROOT]: every citation of the project's own reference
# documents names a section that exists, and nothing cites a document the
# repository does not ship.
#
# A citation is `doc/NAME.md` followed by section numbers, as comments
# write them: "doc/protocol.md 5.6", "doc/protocol.md 8.6-8.9",
# "doc/agentcore-okta.md 2, 5, 7", "doc/design.md flow 3",
# "doc/protocol.md sections 4-7", "doc/test-rig.md G10",
# "doc/style.md habit 4" (a comment's line break may fall inside).
# A section N or N.M exists when the document has a heading "## N. ..."
# or "### N.M ..."; a rule N.M or a trap GN when a line starts with
# "**N.M**" or "**GN**"; habit N when a line starts with "**Habit N.**".
# A citation without numbers only needs the document.  Documents outside
# the repository: the names in OUTSIDE (TEST-RIG and RELAY-RIG are also
# cited without ".md"), and paths into a shared directory beside it.
#
# Prints one line per problem (file:line: what) and exits 1 if any.
# Run by tests/cite-check.test.
ROOT=${1:-$(dirname "$0")/..}
OUTSIDE='PROTOCOL.md DESIGN.md AGENTCORE-OKTA.md TEST-RIG.md RELAY-RIG.md STYLE.md
	TEST-RIG RELAY-RIG'

cd "$ROOT" || exit 2
FILES=$(find README configure.ac Makefile.am dev.sh lib cgi-bin tests tools \
	apache lighttpd sql doc man debian -name node_modules -prune -o \
	-type f -print 2>/dev/null | LC_ALL=C sort)

# shellcheck disable=SC2086
OUTSIDE="$OUTSIDE" exec perl -e '
use strict;
use warnings;

my %sections;   # "doc/x.md" => { "5" => 1, "5.6" => 1, "G3" => 1, "habit 4" => 1 }
for my $d (glob "doc/*.md") {
	open(my $fh, "<", $d) or die "$d: $!\n";
	$sections{$d} = {};
	while (<$fh>) {
		$sections{$d}{$1} = 1 if /^#{2,4} (\d+(?:\.\d+)*)[. ]/;
		$sections{$d}{$1} = 1 if /^\*\*(\d+\.\d+|G\d+)\*\*/;
		$sections{$d}{lc "$1 $2"} = 1 if /^\*\*(Habit|Avoid) (\d+)\.\*\*/;
	}
	close($fh);
}

my @outside = map { quotemeta } split " ", $ENV{OUTSIDE};
my $outside = join("|", @outside, "/work/shared/", "\\.\\./shared/");
my ($bad, $cites) = (0, 0);
my $num = qr/\d+(?:\.\d+)*|G\d+/;

for my $f (@ARGV) {
	next if -B $f or $f =~ m{^tools/cite-check\.sh$|^tests/cite-check\.test$};
	open(my $fh, "<", $f) or die "$f: $!\n";
	my @lines = <$fh>;
	close($fh);
	for my $i (0 .. $#lines) {
		if ($lines[$i] =~ /(?<![\w\/.-])((?:spec\/)?(?:$outside))/) {
			print "$f:", $i + 1, ": cites $1, which is not in the repository\n";
			$bad++;
		}
	}
	# Join comment continuations so a citation may span a line break;
	# keep a map back to line numbers.
	my ($text, @at) = ("");
	for my $i (0 .. $#lines) {
		my $l = $lines[$i];
		$l =~ s/\n\z//;
		$l =~ s/^[ \t]*(?:\*(?!\/)|#|\/\/)?[ \t]*// if $i > 0;
		$text .= " " if $i > 0;
		push @at, [length($text), $i + 1];
		$text .= $l;
	}
	while ($text =~ m{\bdoc/([a-z0-9-]+\.md)`?((?:[ ,:]+(sections?|rules?|flows?|traps?|gotchas?|habits?|avoid|§)?[ ]*)?)((?:$num)(?:[ ]*(?:,|-|and|to)[ ]*(?:$num))*)?}g) {
		my ($doc, $nums, $pos) = ("doc/$1", $4, $-[0]);
		my $kind = defined $3 && $3 =~ /^(habit|avoid)/ ? "$1 " : "";
		my $line = 1;
		for (@at) { last if $_->[0] > $pos; $line = $_->[1]; }
		$cites++;
		if (!exists $sections{$doc}) {
			print "$f:$line: cites $doc, which does not exist\n";
			$bad++;
			next;
		}
		next unless defined $nums;
		for my $n (map { "$kind$_" } $nums =~ /($num)/g) {
			next if exists $sections{$doc}{$n};
			print "$f:$line: cites $doc $n, which $doc does not have\n";
			$bad++;
		}
	}
}
print "$cites citations of doc/ checked, $bad problems\n";
exit($bad ? 1 : 0);
' $FILES
