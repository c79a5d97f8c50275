package dev.promsink.flink.internal.jni;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.promsink.flink.internal.jni.UserCodeClassLoader.Loaded;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library loads in each of its ways, in every class loader (as Flink restarts jobs), and leaves
 * no files behind.
 *
 * <p>Every test that loads the library in place loads a fresh copy of it (in a JUnit temporary
 * folder): the JVM lets only one class loader load a file, and other tests of this JVM may hold
 * {@code target/release/libpromsink.so}. The {@code java.library.path} way runs in child JVMs.
 */
class NativeLibraryLoaderTest {
  private static final Path TMP = Paths.get(System.getProperty("java.io.tmpdir"));
  private static final Path BUILT = Paths.get("target/release/libpromsink.so").toAbsolutePath();
  private static final String RESOURCE =
      "jar resource /native/" + NativeLibraryLoader.platform() + "/libpromsink.so";

  /**
   * What a loader leaves in java.io.tmpdir if it fails to clean up: this one's folders ("promsink-"
   * and random digits) or an older one's files. Other processes may use the shared folder for their
   * own "promsink-..." entries at the same time.
   */
  private static final Pattern LOADER_ENTRY = Pattern.compile("promsink-[0-9]+(-.*)?");

  @TempDir Path scratch;

  private String previousOverride;
  private Set<Path> entriesBefore;

  @BeforeEach
  void rememberState() throws Exception {
    assertThat(BUILT).exists();
    previousOverride = System.getProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
    System.clearProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
    entriesBefore = promsinkEntries(TMP);
  }

  @AfterEach
  void restoreState() throws Exception {
    if (previousOverride == null) {
      System.clearProperty(NativeLibraryLoader.LIBRARY_PROPERTY);
    } else {
      System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, previousOverride);
    }
    // Nothing left in java.io.tmpdir (shared with other processes: only new entries count).
    Set<Path> left = promsinkEntries(TMP);
    left.removeAll(entriesBefore);
    assertThat(left).isEmpty();
  }

  /** The directory or jar holding the sink's classes and the bundled library. */
  private static URL sinkClasses() throws Exception {
    return NativeClient.class.getProtectionDomain().getCodeSource().getLocation();
  }

  private static Set<Path> promsinkEntries(Path folder) throws IOException {
    try (Stream<Path> files = Files.list(folder)) {
      return files
          .filter(p -> LOADER_ENTRY.matcher(p.getFileName().toString()).matches())
          .collect(Collectors.toCollection(HashSet::new));
    }
  }

  /** A fresh copy of the built library, which no class loader of this JVM has loaded yet. */
  private Path freshLibrary() throws IOException {
    Path folder = Files.createTempDirectory(scratch, "lib");
    return Files.copy(BUILT, folder.resolve("libpromsink.so"));
  }

  /** A copy made by the loader: in its own folder in java.io.tmpdir, and gone now. */
  private static void assertPrivateCopyGone(Loaded loaded, Path tmp) {
    Path copy = Paths.get(loaded.file);
    assertThat(copy.getFileName().toString()).isEqualTo("libpromsink.so");
    assertThat(copy.getParent().getParent()).isEqualTo(tmp);
    assertThat(copy.getParent().getFileName().toString()).startsWith("promsink-");
    assertThat(copy).doesNotExist();
    assertThat(copy.getParent()).doesNotExist();
  }

  @Test
  void loadsInManyClassLoadersOfOneJvmWithoutLeavingFiles() throws Exception {
    // Every class loader stays reachable until the end, so none is unloaded in between (which
    // would let a later one load the override in place again).
    List<UserCodeClassLoader> loaders = new ArrayList<>();
    try {
      // 10 without the override: each extracts the bundled library into its own private folder.
      Set<String> copies = new HashSet<>();
      for (int i = 0; i < 10; i++) {
        // Parent is the platform loader (logging aside), so the sink's classes are loaded anew, as
        // in a new Flink user-code class loader.
        UserCodeClassLoader loader = new UserCodeClassLoader(sinkClasses());
        loaders.add(loader);
        assertThat(Class.forName(NativeClient.class.getName(), true, loader))
            .isNotSameAs(NativeClient.class);
        Loaded loaded = UserCodeClassLoader.useClientIn(loader);
        assertThat(loaded.way).isEqualTo("BUNDLED_COPY");
        assertThat(loaded.source).isEqualTo(RESOURCE);
        assertPrivateCopyGone(loaded, TMP);
        assertThat(copies.add(loaded.file)).as("a folder per class loader").isTrue();
      }
      // 10 with the override: the first loads it in place, the others a private copy of it.
      Path override = freshLibrary();
      System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, override.toString());
      for (int i = 0; i < 10; i++) {
        UserCodeClassLoader loader = new UserCodeClassLoader(sinkClasses());
        loaders.add(loader);
        Loaded loaded = UserCodeClassLoader.useClientIn(loader);
        assertThat(loaded.way).isEqualTo(i == 0 ? "OVERRIDE" : "OVERRIDE_COPY");
        assertThat(loaded.source).isEqualTo(override.toString());
        if (i == 0) {
          assertThat(loaded.file).isEqualTo(override.toString());
        } else {
          assertPrivateCopyGone(loaded, TMP);
        }
      }
    } finally {
      for (UserCodeClassLoader loader : loaders) {
        loader.close();
      }
    }
  }

  @Test
  void platformNameIsOsAndArch() {
    assertThat(NativeLibraryLoader.platform()).isIn("linux-x86_64", "linux-aarch64");
    assertThat(NativeLibraryLoader.platform())
        .isEqualTo(
            NativeLibraryLoader.platform(
                System.getProperty("os.name"), System.getProperty("os.arch")));
  }

  @Test
  void bothNamesOfAnArchitecturePickOneBundledFolder() {
    // Linux JVMs say amd64 and aarch64; x86_64 and arm64 are the other names in use.
    assertThat(NativeLibraryLoader.platform("Linux", "amd64")).isEqualTo("linux-x86_64");
    assertThat(NativeLibraryLoader.platform("Linux", "x86_64")).isEqualTo("linux-x86_64");
    assertThat(NativeLibraryLoader.platform("Linux", "aarch64")).isEqualTo("linux-aarch64");
    assertThat(NativeLibraryLoader.platform("Linux", "arm64")).isEqualTo("linux-aarch64");
    // Platforms without a bundled library keep a name of their own, for the error message.
    assertThat(NativeLibraryLoader.platform("Linux", "riscv64")).isEqualTo("linux-riscv64");
    assertThat(NativeLibraryLoader.platform("Linux", "ppc64le")).isEqualTo("linux-ppc64le");
    assertThat(NativeLibraryLoader.platform("Mac OS X", "aarch64")).isEqualTo("macos-aarch64");
    assertThat(NativeLibraryLoader.platform("Windows 11", "amd64")).isEqualTo("windows_11-x86_64");
  }

  /** The ELF machine (e_machine) of a library: 62 is x86-64, 183 is AArch64. */
  private static int elfMachine(byte[] library) {
    assertThat(library).startsWith(0x7f, 'E', 'L', 'F');
    return (library[18] & 0xff) | (library[19] & 0xff) << 8;
  }

  @Test
  void theBuildBundlesALibraryForEachPlatformBuiltForThatMachine() throws Exception {
    // -Dnative.aarch64.skip builds the x86_64 library only (the poms pass the flag on).
    boolean aarch64Skipped = Boolean.getBoolean("promsink.native.aarch64.skip");
    assertThat(NativeLibraryLoader.bundledPlatforms())
        .isEqualTo(aarch64Skipped ? "linux-x86_64" : "linux-x86_64, linux-aarch64");
    try (InputStream in =
        NativeLibraryLoader.class.getResourceAsStream("/native/linux-x86_64/libpromsink.so")) {
      assertThat(elfMachine(in.readAllBytes())).isEqualTo(62);
    }
    if (!aarch64Skipped) {
      try (InputStream in =
          NativeLibraryLoader.class.getResourceAsStream("/native/linux-aarch64/libpromsink.so")) {
        assertThat(elfMachine(in.readAllBytes())).isEqualTo(183);
      }
    }
  }

  @Test
  void onAPlatformWithoutABundledLibraryOneErrorNamesItThePathsTriedAndTheOverride()
      throws Exception {
    Path empty = Files.createTempDirectory(scratch, "empty");
    Child child = probe(List.of("-Dos.arch=riscv64"), empty, null, "app");
    assertThat(child.results()).hasSize(1);
    String expectedHeld =
        Boolean.getBoolean("promsink.native.aarch64.skip")
            ? "linux-x86_64"
            : "linux-x86_64, linux-aarch64";
    assertThat(child.results().get(0))
        .isEqualTo(
            "ERROR\tpromsink: cannot load the native library for platform linux-riscv64; tried,"
                + " in order: 1) System.loadLibrary(\"promsink\"): no promsink in"
                + " java.library.path: "
                + empty
                + "; 2) promsink.native.library: not set; 3) the jar resource"
                + " /native/linux-riscv64/libpromsink.so: this jar has no native library for this"
                + " platform (it holds "
                + expectedHeld
                + "); put a libpromsink.so built with cargo for this platform on"
                + " java.library.path or set -Dpromsink.native.library=/path/to/libpromsink.so");
  }

  @Test
  void aMissingOverrideFileGivesOneClearError() throws Exception {
    System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, "/nonexistent/libpromsink.so");
    try (UserCodeClassLoader loader = new UserCodeClassLoader(sinkClasses())) {
      assertThatThrownBy(() -> UserCodeClassLoader.useClientIn(loader))
          .isInstanceOf(UnsatisfiedLinkError.class)
          .hasMessageContaining("promsink: cannot load the native library for platform")
          .hasMessageContaining(NativeLibraryLoader.platform())
          .hasMessageContaining(
              "System.loadLibrary(\"promsink\"): no promsink in java.library.path")
          .hasMessageContaining("promsink.native.library=/nonexistent/libpromsink.so")
          .hasMessageContaining("the jar's library: not tried");
      Class<?> loaderClass = Class.forName(NativeLibraryLoader.class.getName(), true, loader);
      assertThat(loaderClass.getMethod("loadedLibrary").invoke(null)).asString().contains("empty");
    }
  }

  @Test
  void anOverrideFileIsLoadedInPlaceThenCopiedForASecondClassLoader() throws Exception {
    Path override = freshLibrary();
    System.setProperty(NativeLibraryLoader.LIBRARY_PROPERTY, override.toString());
    try (UserCodeClassLoader first = new UserCodeClassLoader(sinkClasses());
        UserCodeClassLoader second = new UserCodeClassLoader(sinkClasses())) {
      Loaded inPlace = UserCodeClassLoader.useClientIn(first);
      assertThat(inPlace.way).isEqualTo("OVERRIDE");
      assertThat(inPlace.source).isEqualTo(override.toString());
      assertThat(inPlace.file).isEqualTo(override.toString()); // no copy, no temporary folder

      // The first class loader still holds the file: the second gets a private copy of it.
      Loaded copied = UserCodeClassLoader.useClientIn(second);
      assertThat(copied.way).isEqualTo("OVERRIDE_COPY");
      assertThat(copied.source).isEqualTo(override.toString());
      assertPrivateCopyGone(copied, TMP);

      // Each keeps the way it used; the first one still works.
      assertThat(UserCodeClassLoader.loadedIn(first).way).isEqualTo("OVERRIDE");
      assertThat(UserCodeClassLoader.useClientIn(first).way).isEqualTo("OVERRIDE");
    }
  }

  @Test
  void theBundledLibraryIsExtractedIntoAPrivateFolderAndRemoved() throws Exception {
    try (UserCodeClassLoader loader = new UserCodeClassLoader(sinkClasses())) {
      Loaded loaded = UserCodeClassLoader.useClientIn(loader);
      assertThat(loaded.way).isEqualTo("BUNDLED_COPY");
      assertThat(loaded.source).isEqualTo(RESOURCE);
      assertPrivateCopyGone(loaded, TMP);
    }
  }

  @Test
  void aPrivateCopyIsOwnerOnlyFromTheStartAndRemovedWithItsFolder() throws Exception {
    byte[] content = Files.readAllBytes(BUILT);
    Path copy = NativeLibraryLoader.privateCopy(new ByteArrayInputStream(content));
    try {
      Path folder = copy.getParent();
      assertThat(folder.getParent()).isEqualTo(TMP);
      assertThat(folder.getFileName().toString()).startsWith(NativeLibraryLoader.FOLDER_PREFIX);
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(folder)))
          .isEqualTo("rwx------");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(copy)))
          .isEqualTo("rwx------");
      assertThat(copy).hasBinaryContent(content);
      try (Stream<Path> files = Files.list(folder)) {
        assertThat(files).containsExactly(copy);
      }
      // Two copies never share a folder.
      Path other = NativeLibraryLoader.privateCopy(new ByteArrayInputStream(content));
      NativeLibraryLoader.deletePrivateCopy(other);
      assertThat(other.getParent()).isNotEqualTo(folder).doesNotExist();
    } finally {
      NativeLibraryLoader.deletePrivateCopy(copy);
    }
    assertThat(copy).doesNotExist();
    assertThat(copy.getParent()).doesNotExist();
  }

  @Test
  void aFailedCopyLeavesNoFolder() {
    InputStream failing =
        new InputStream() {
          @Override
          public int read() throws IOException {
            throw new IOException("broken stream");
          }
        };
    assertThatThrownBy(() -> NativeLibraryLoader.privateCopy(failing))
        .isInstanceOf(IOException.class)
        .hasMessage("broken stream");
    // restoreState checks that no promsink entry is left in java.io.tmpdir
  }

  // --- java.library.path, in child JVMs -----------------------------------------------------

  /** The output of a child JVM running {@link LoaderProbe}, and its private java.io.tmpdir. */
  private static final class Child {
    final List<String> lines;
    final Path tmp;

    Child(List<String> lines, Path tmp) {
      this.lines = lines;
      this.tmp = tmp;
    }

    List<String> results() {
      return lines.stream()
          .filter(l -> l.startsWith("WAY\t") || l.startsWith("ERROR\t"))
          .collect(Collectors.toList());
    }

    Loaded loaded(int i) {
      String line = results().get(i);
      assertThat(line).as(String.join("\n", lines)).startsWith("WAY\t");
      return Loaded.parse(line.substring("WAY\t".length()));
    }

    String output() {
      return String.join("\n", lines);
    }
  }

  /**
   * Runs {@link LoaderProbe} with these class loader arguments in a JVM whose {@code
   * java.library.path} is {@code libraryPath} and whose {@code java.io.tmpdir} is a new empty
   * folder, and checks that the folder is empty again at the end.
   */
  private Child probe(Path libraryPath, String override, String... loaders) throws Exception {
    return probe(List.of(), libraryPath, override, loaders);
  }

  /** {@link #probe(Path, String, String...)} with these options for the child JVM. */
  private Child probe(List<String> jvmOptions, Path libraryPath, String override, String... loaders)
      throws Exception {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    Path tmp = Files.createTempDirectory(scratch, "tmp");
    List<String> command = new ArrayList<>();
    command.add(java);
    command.add("-Djava.library.path=" + libraryPath);
    command.add("-Djava.io.tmpdir=" + tmp);
    command.addAll(jvmOptions);
    if (override != null) {
      command.add("-D" + NativeLibraryLoader.LIBRARY_PROPERTY + "=" + override);
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(LoaderProbe.class.getName());
    command.addAll(List.of(loaders));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
    List<String> lines = List.of(new String(output, UTF_8).split("\n"));
    assertThat(process.exitValue()).as(String.join("\n", lines)).isZero();
    assertThat(lines).as("one result per class loader").contains("DONE " + loaders.length);
    try (Stream<Path> files = Files.list(tmp)) {
      assertThat(files).as("left in the child's java.io.tmpdir").isEmpty();
    }
    return new Child(lines, tmp);
  }

  /** A folder holding only a fresh copy of the built library, for {@code java.library.path}. */
  private Path libraryFolder() throws IOException {
    return freshLibrary().getParent();
  }

  @Test
  void aLibraryOnJavaLibraryPathIsLoadedInPlaceThenTheBundledOneForLaterClassLoaders()
      throws Exception {
    Path libraryPath = libraryFolder();
    String sink = Paths.get(sinkClasses().toURI()).toString();
    Child child = probe(libraryPath, null, "app", sink, sink, sink);

    Loaded first = child.loaded(0);
    assertThat(first.way).isEqualTo("LIBRARY_PATH");
    assertThat(first.source).isEqualTo(libraryPath.resolve("libpromsink.so").toString());
    assertThat(first.file).isEqualTo(first.source);
    Set<String> copies = new HashSet<>();
    for (int i = 1; i <= 3; i++) {
      Loaded later = child.loaded(i);
      assertThat(later.way).isEqualTo("BUNDLED_COPY");
      assertThat(later.source).isEqualTo(RESOURCE);
      assertPrivateCopyGone(later, child.tmp);
      copies.add(later.file);
    }
    assertThat(copies).hasSize(3);
    assertThat(child.output()).contains("promsink: native library loaded: LIBRARY_PATH");
    // "already loaded in another classloader" is the normal case for a later class loader
    assertThat(child.output()).doesNotContain("WARN");
  }

  @Test
  void aLibraryOnJavaLibraryPathComesBeforeTheOverride() throws Exception {
    Path libraryPath = libraryFolder();
    Path override = freshLibrary();
    String sink = Paths.get(sinkClasses().toURI()).toString();
    Child child = probe(libraryPath, override.toString(), "app", sink, sink);

    assertThat(child.loaded(0).way).isEqualTo("LIBRARY_PATH");
    assertThat(child.output()).contains("promsink.native.library=" + override + " is not used");
    // Later class loaders: the file on java.library.path is taken, so the override, in place for
    // the first of them, then a private copy of it.
    assertThat(child.loaded(1).way).isEqualTo("OVERRIDE");
    assertThat(child.loaded(1).file).isEqualTo(override.toString());
    assertThat(child.loaded(2).way).isEqualTo("OVERRIDE_COPY");
    assertPrivateCopyGone(child.loaded(2), child.tmp);
  }

  @Test
  void withoutABundledLibraryLaterClassLoadersCopyTheOneOnJavaLibraryPath() throws Exception {
    Path sink = Paths.get(sinkClasses().toURI());
    assumeThat(sink).as("the sink's classes are a folder (mvn test)").isDirectory();
    // The sink's classes without native/: a jar built for another platform.
    Path withoutLibrary = Files.createTempDirectory(scratch, "classes");
    try (Stream<Path> files = Files.walk(sink)) {
      for (Path from : (Iterable<Path>) files::iterator) {
        Path relative = sink.relativize(from);
        if (relative.toString().startsWith("native")) {
          continue;
        }
        Path to = withoutLibrary.resolve(relative.toString());
        if (Files.isDirectory(from)) {
          Files.createDirectories(to);
        } else {
          Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
    Path libraryPath = libraryFolder();
    Path library = libraryPath.resolve("libpromsink.so");
    Child child =
        probe(libraryPath, null, "app", withoutLibrary.toString(), withoutLibrary.toString());

    assertThat(child.loaded(0).way).isEqualTo("LIBRARY_PATH");
    for (int i = 1; i <= 2; i++) {
      Loaded later = child.loaded(i);
      assertThat(later.way).isEqualTo("LIBRARY_PATH_COPY");
      assertThat(later.source).isEqualTo(library.toString());
      assertPrivateCopyGone(later, child.tmp);
    }
  }

  @Test
  void withNoLibraryOnJavaLibraryPathTheBundledOneIsUsedQuietly() throws Exception {
    Path empty = Files.createTempDirectory(scratch, "empty");
    String sink = Paths.get(sinkClasses().toURI()).toString();
    Child child = probe(empty, null, "app", sink);
    for (int i = 0; i <= 1; i++) {
      Loaded loaded = child.loaded(i);
      assertThat(loaded.way).isEqualTo("BUNDLED_COPY");
      assertPrivateCopyGone(loaded, child.tmp);
    }
    assertThat(child.output()).doesNotContain("WARN").doesNotContain("java.library.path");
  }

  @Test
  void aBrokenLibraryOnJavaLibraryPathIsReportedAndSkipped() throws Exception {
    Path broken = Files.createTempDirectory(scratch, "broken");
    Files.write(broken.resolve("libpromsink.so"), "not a library".getBytes(UTF_8));
    Child child = probe(broken, null, "app");
    assertThat(child.loaded(0).way).isEqualTo("BUNDLED_COPY");
    assertThat(child.output())
        .contains("WARN")
        .contains("did not load")
        .contains(broken.resolve("libpromsink.so").toString());

    // If every way fails, the error names each with its reason.
    Child failing = probe(broken, "/nonexistent/libpromsink.so", "app");
    assertThat(failing.results()).hasSize(1);
    assertThat(failing.results().get(0))
        .startsWith("ERROR\t")
        .contains("promsink: cannot load the native library for platform")
        .contains("System.loadLibrary(\"promsink\"): " + broken.resolve("libpromsink.so"))
        .contains("promsink.native.library=/nonexistent/libpromsink.so")
        .contains("the jar's library: not tried");
  }
}
