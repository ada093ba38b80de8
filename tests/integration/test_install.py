"""Installation: `cmake --install BUILD --prefix /usr` with DESTDIR puts
every file in place (the binaries, the man pages, the systemd unit, the
configuration and its example), a second install never overwrites an
edited configuration but refreshes the example, another prefix gets a unit
naming its own paths, the installed man pages render without a single
groff warning, and the installed unit passes `systemd-analyze verify` and
scores an overall exposure of at most 2.0 in `systemd-analyze security`.

Needs no Redis and no running daemon.  The build directory is the parent
of the directory holding $HOTLINED.  The systemd checks are skipped only
when systemd-analyze is not installed."""

import filecmp
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOTLINED = os.environ.get("HOTLINED") or os.path.join(SOURCE_ROOT, "build", "daemon", "hotlined")
BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(HOTLINED)))
PREFIX = "/usr"
UNIT = "hotlined.service"
MAX_EXPOSURE = 2.0
TIMEOUT = 120

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
NO_SYSTEMD_ANALYZE = "systemd-analyze is not installed (Debian package systemd)"

# Installed man page (under MANDIR) -> its source.
MAN_PAGES = {
    "man8/hotlined.8": "daemon/hotlined.8",
    "man1/hotline.1": "tools/hotline.1",
    "man5/hotline.yaml.5": "config/hotline.yaml.5",
}

# Units the default dependencies of a service pull in, taken from the host
# for `verify --root`, which resolves everything inside the tree.
BASE_UNITS = ("sysinit.target", "basic.target", "shutdown.target", "network-online.target")


def cache_value(name, default=None):
    """A variable from the build's CMakeCache.txt."""
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"([A-Za-z0-9_]+):[A-Z]+=(.*)$", line.rstrip("\n"))
            if m and m.group(1) == name:
                return m.group(2)
    return default


def full_dir(var, default, prefix, etc_like=False):
    """A GNUInstallDirs directory as installed under prefix (SYSCONFDIR is
    /etc for /usr, as GNUInstallDirs has it)."""
    d = cache_value(var) or default
    if os.path.isabs(d):
        return d
    if etc_like and prefix == "/usr":
        return "/" + d
    return prefix.rstrip("/") + "/" + d


class Layout:
    """Where each file of an install to prefix lands, as absolute paths."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.sbin = full_dir("CMAKE_INSTALL_SBINDIR", "sbin", prefix) + "/hotlined"
        self.bin = full_dir("CMAKE_INSTALL_BINDIR", "bin", prefix) + "/hotline"
        # An empty MANDIR in the cache means DATAROOTDIR/man.
        self.mandir = full_dir("CMAKE_INSTALL_MANDIR",
                               (cache_value("CMAKE_INSTALL_DATAROOTDIR") or "share") + "/man", prefix)
        self.confdir = full_dir("CMAKE_INSTALL_SYSCONFDIR", "etc", prefix, etc_like=True) + "/hotline"
        self.config = self.confdir + "/hotline.yaml"
        self.example = self.confdir + "/hotline.yaml.example"
        unitdir = cache_value("HOTLINE_SYSTEMD_UNITDIR", "lib/systemd/system")
        if not os.path.isabs(unitdir):
            unitdir = prefix.rstrip("/") + "/" + unitdir
        self.unit = unitdir + "/" + UNIT
        self.man = {rel: self.mandir + "/" + rel for rel in MAN_PAGES}


def install(destdir, prefix=PREFIX):
    """Run `cmake --install` into destdir; returns its output."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise AssertionError("cmake is not on PATH")
    env = dict(os.environ, DESTDIR=destdir)
    r = subprocess.run([cmake, "--install", BUILD_DIR, "--prefix", prefix], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise AssertionError(f"cmake --install failed ({r.returncode}):\n{out}")
    return out


def in_tree(root, path):
    return os.path.join(root, path.lstrip("/"))


def exec_commands(unit_text):
    """The program paths of the unit's Exec*= lines, without the special prefixes."""
    paths = []
    for line in unit_text.splitlines():
        m = re.match(r"\s*Exec[A-Za-z]*=\s*(\S+)", line)
        if m:
            paths.append(m.group(1).lstrip("-@:+!"))
    return paths


class InstallTreeCase(unittest.TestCase):
    """A fresh install into a private DESTDIR for each test class."""

    prefix = PREFIX

    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(HOTLINED):
            raise AssertionError(f"{HOTLINED} does not exist: build first (or set HOTLINED)")
        cls.tmp = tempfile.mkdtemp(prefix="hotline-install-")
        cls.root = os.path.join(cls.tmp, "root")
        cls.layout = Layout(cls.prefix)
        cls.first_output = install(cls.root, cls.prefix)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("HOTLINE_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, p):
        return in_tree(self.root, p)

    def assertSameFile(self, installed, source):
        self.assertTrue(os.path.isfile(self.path(installed)), f"{installed} was not installed")
        self.assertTrue(filecmp.cmp(self.path(installed), source, shallow=False),
                        f"{installed} differs from {source}")


class InstallTest(InstallTreeCase):
    def test_binaries(self):
        L = self.layout
        for installed, built in ((L.sbin, HOTLINED),
                                 (L.bin, os.environ.get("HOTLINE") or
                                  os.path.join(BUILD_DIR, "tools", "hotline"))):
            self.assertSameFile(installed, built)
            self.assertTrue(os.access(self.path(installed), os.X_OK), f"{installed} is not executable")

    def test_man_pages(self):
        for rel, src in MAN_PAGES.items():
            self.assertSameFile(self.layout.man[rel], os.path.join(SOURCE_ROOT, src))

    def test_config_and_example(self):
        src = os.path.join(SOURCE_ROOT, "config", "hotline.yaml")
        if cache_value("CMAKE_INSTALL_SYSCONFDIR") in ("etc", "/etc"):
            self.assertEqual(self.layout.confdir, "/etc/hotline")
        self.assertSameFile(self.layout.config, src)
        self.assertSameFile(self.layout.example, src)
        mode = stat.S_IMODE(os.stat(self.path(self.layout.config)).st_mode)
        self.assertEqual(mode, 0o644, "the config must be readable by the service's dynamic user")

    def test_unit_is_the_usr_unit(self):
        """For prefix /usr the installed unit is systemd/hotlined.service as it is."""
        self.assertSameFile(self.layout.unit, os.path.join(SOURCE_ROOT, "systemd", UNIT))
        with open(self.path(self.layout.unit), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/sbin/hotlined -c /etc/hotline/hotline.yaml\n", text)

    def test_installed_daemon_accepts_installed_config(self):
        """What the unit's ExecStartPre runs, inside the tree."""
        r = subprocess.run([self.path(self.layout.sbin), "--check-config", self.path(self.layout.config)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        self.assertIn(b": ok (", r.stdout)

    def test_man_pages_render_without_warnings(self):
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff is not installed: run tools/dev/deps (package groff-base)")
        for rel, page in self.layout.man.items():
            r = subprocess.run([groff, "-ww", "-man", "-Tutf8", "-z", self.path(page)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
            self.assertEqual((r.returncode, r.stdout.decode(errors="replace")), (0, ""),
                             f"groff -ww on {rel}")
            with open(self.path(page), encoding="utf-8") as f:
                th = next(line for line in f if line.startswith(".TH "))
            name, section = os.path.basename(rel).rsplit(".", 1)
            self.assertTrue(th.startswith(f".TH {name.upper()} {section} "), f"{rel}: {th.strip()}")


class ReinstallTest(InstallTreeCase):
    def test_edited_config_is_kept_and_example_refreshed(self):
        L = self.layout
        src = os.path.join(SOURCE_ROOT, "config", "hotline.yaml")
        with open(self.path(L.config), "a", encoding="utf-8") as f:
            f.write("# edited by the administrator\n")
        with open(self.path(L.config), "rb") as f:
            edited = f.read()
        with open(self.path(L.example), "a", encoding="utf-8") as f:
            f.write("# stale\n")

        out = install(self.root)
        with open(self.path(L.config), "rb") as f:
            self.assertEqual(f.read(), edited, "the second install overwrote the edited config")
        self.assertSameFile(L.example, src)
        self.assertIn("Keeping: " + self.path(L.config), out)

        # Removed by the administrator: the next install puts it back.
        os.unlink(self.path(L.config))
        install(self.root)
        self.assertSameFile(L.config, src)


class OtherPrefixTest(InstallTreeCase):
    prefix = "/usr/local"

    def test_unit_names_the_installed_paths(self):
        L = self.layout
        self.assertEqual(L.confdir, "/usr/local/etc/hotline")
        self.assertTrue(os.path.isfile(self.path(L.config)))
        with open(self.path(L.unit), encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"ExecStart={L.sbin} -c {L.config}\n", text)
        self.assertIn(f"ExecStartPre={L.sbin} --check-config {L.config}\n", text)
        self.assertNotRegex(text, r"[ =]/usr/sbin/hotlined")
        self.assertNotRegex(text, r"[ =]/etc/hotline/")
        for p in exec_commands(text):
            if p.endswith("/hotlined"):
                self.assertTrue(os.access(self.path(p), os.X_OK), f"{p} is not in the tree")


@unittest.skipIf(SYSTEMD_ANALYZE is None, NO_SYSTEMD_ANALYZE)
class SystemdTest(InstallTreeCase):
    def run_analyze(self, *args, env=None):
        r = subprocess.run([SYSTEMD_ANALYZE, *args], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT)
        return r.returncode, r.stdout.decode(errors="replace")

    def test_security_exposure(self):
        rc, out = self.run_analyze("security", "--offline=yes", f"--root={self.root}", "--no-pager", UNIT)
        m = re.search(r"Overall exposure level for hotlined\.service:\s*([0-9]+(?:\.[0-9]+)?)", out)
        self.assertIsNotNone(m, f"no overall exposure in:\n{out}")
        exposure = float(m.group(1))
        self.assertLessEqual(exposure, MAX_EXPOSURE, f"exposure {exposure}:\n{out}")

    def test_verify(self):
        """`verify --root` resolves the unit, its dependencies, its commands
        and its Documentation= man pages inside the tree: give it the host's
        base targets and the commands hotline does not install (/bin/kill),
        and check hotlined and the man pages from the install itself."""
        L = self.layout
        host_dirs = ("/usr/lib/systemd/system", "/lib/systemd/system")
        units_dir = self.path("/usr/lib/systemd/system")
        os.makedirs(units_dir, exist_ok=True)
        for u in BASE_UNITS:
            if os.path.exists(os.path.join(units_dir, u)) or os.path.exists(self.path(f"/lib/systemd/system/{u}")):
                continue
            host = next((os.path.join(d, u) for d in host_dirs if os.path.isfile(os.path.join(d, u))), None)
            if host is None:
                self.skipTest(f"the host has no {u} to give systemd-analyze verify --root")
            shutil.copyfile(host, os.path.join(units_dir, u))
        with open(self.path(L.unit), encoding="utf-8") as f:
            commands = exec_commands(f.read())
        self.assertIn(L.sbin, commands)
        for p in commands:
            if p == L.sbin or os.path.exists(self.path(p)):
                continue
            host = shutil.which(os.path.basename(p)) if not os.path.exists(p) else p
            self.assertIsNotNone(host, f"the unit runs {p}, which the host does not have either")
            os.makedirs(os.path.dirname(self.path(p)), exist_ok=True)
            shutil.copy2(os.path.realpath(host), self.path(p))

        args = ["verify", f"--root={self.root}"]
        env = dict(os.environ, SYSTEMD_PAGER="cat")
        if shutil.which("man"):
            env["MANPATH"] = self.path(L.mandir)  # Documentation=man:... must name installed pages
        else:
            args.append("--man=no")
        rc, out = self.run_analyze(*args, UNIT, env=env)
        if rc != 0 and "unrecognized option" in out:
            self.skipTest(f"this systemd-analyze cannot verify with --root: {out.strip()}")
        self.assertEqual((rc, out), (0, ""), "systemd-analyze verify")


if __name__ == "__main__":
    unittest.main(verbosity=2)
