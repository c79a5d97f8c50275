package dev.promsink.flink.internal.jni;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads {@code libpromsink} once per class loader, in the first of these ways that works:
 *
 * <ol>
 *   <li>{@code System.loadLibrary("promsink")}: a library a platform team put on {@code
 *       java.library.path}, loaded in place. Finding none there is the normal case, logged at DEBUG
 *       only; any other failure is logged at WARN if a later way works. When it loads, {@value
 *       #LIBRARY_PROPERTY} is not used (a WARN says so).
 *   <li>The file named by the system property {@value #LIBRARY_PROPERTY}, loaded in place (no copy,
 *       so it works where the temporary folder is mounted {@code noexec}). When the property is
 *       set, the jar's library is never used: a wrong path is an error, not a silent fallback.
 *   <li>The jar's library for this JVM's {@code os.name} and {@code os.arch} ({@code
 *       native/<os>-<arch>/libpromsink.so}: the jar holds {@code linux-x86_64} and {@code
 *       linux-aarch64}; {@code os.arch} {@code amd64} or {@code x86_64} picks the first, {@code
 *       aarch64} or {@code arm64} the second), copied into a new private folder in {@code
 *       java.io.tmpdir} (random name, owner-only permissions from its creation, one per load),
 *       loaded, and deleted with its folder at once (the mapping stays valid); {@code deleteOnExit}
 *       is the fallback if deleting fails.
 * </ol>
 *
 * <p>Flink gives every job, and every restart of a job, a new user class loader, and the JVM
 * refuses to load one library file into two class loaders at once ("already loaded in another
 * classloader"). So a file on {@code java.library.path} or named by the property loads in place
 * only in the first class loader (or again once that loader has been collected and the JVM has
 * unloaded the library). A later class loader falls back to a private copy: of the property's file
 * when the property is set; otherwise of the jar's library (so that class loader may run the jar's
 * build rather than the platform's), or, if the jar holds none for this platform, of the file found
 * on {@code java.library.path}. A copy needs a {@code java.io.tmpdir} that allows executable
 * mappings: where it is {@code noexec}, point {@code java.io.tmpdir} elsewhere or every class
 * loader after the first fails.
 *
 * <p>{@link #loadedLibrary()} tells which way was used; it is also logged once at INFO. If every
 * way fails, one {@link UnsatisfiedLinkError} names the platform and each way tried with its
 * reason: on a platform the jar has no library for (another operating system or architecture), the
 * resource path looked up, the platforms the jar does hold, and how to give a library built for
 * this platform ({@code java.library.path} or {@value #LIBRARY_PROPERTY}).
 */
public final class NativeLibraryLoader {
  /** System property naming a library file to use instead of the bundled one. */
  public static final String LIBRARY_PROPERTY = "promsink.native.library";

  private static final Logger LOG = LoggerFactory.getLogger(NativeLibraryLoader.class);
  private static final String NAME = "promsink";

  /**
   * The platforms the build bundles a library for ({@code native/<platform>/libpromsink.so}): the
   * host build and the aarch64 cross-build of {@code scripts/native-aarch64.sh}.
   */
  static final List<String> PLATFORMS = List.of("linux-x86_64", "linux-aarch64");

  /** The prefix of the private folders; the rest of the name is random. */
  static final String FOLDER_PREFIX = "promsink-";

  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rwx------");

  /** How the library was loaded in this class loader. */
  public enum Way {
    /** By {@code System.loadLibrary("promsink")} from {@code java.library.path}, in place. */
    LIBRARY_PATH,
    /** From the file named by {@value #LIBRARY_PROPERTY}, in place. */
    OVERRIDE,
    /**
     * From a private copy of the file named by {@value #LIBRARY_PROPERTY}, because another class
     * loader holds that file.
     */
    OVERRIDE_COPY,
    /** From a private copy of the library bundled in the jar. */
    BUNDLED_COPY,
    /**
     * From a private copy of the file on {@code java.library.path}, because another class loader
     * holds that file and the jar bundles no library for this platform.
     */
    LIBRARY_PATH_COPY
  }

  /** Where and how the library was loaded. */
  public static final class LoadedLibrary {
    private final Way way;
    private final String source;
    private final String file;

    LoadedLibrary(Way way, String source, String file) {
      this.way = way;
      this.source = source;
      this.file = file;
    }

    /** The way used. */
    public Way way() {
      return way;
    }

    /**
     * Where the library came from: a file, or the jar resource. For {@link Way#LIBRARY_PATH} the
     * first matching file on {@code sun.boot.library.path} and {@code java.library.path} (the JVM's
     * own search order), or {@code "java.library.path"} if none is found by that search.
     */
    public String source() {
      return source;
    }

    /**
     * The file given to the JVM to load: the source itself when loaded in place, otherwise the
     * private copy (already deleted).
     */
    public String file() {
      return file;
    }

    @Override
    public String toString() {
      return way + " from " + source + (file.equals(source) ? "" : " (copied to " + file + ")");
    }
  }

  private static LoadedLibrary loaded;

  private NativeLibraryLoader() {}

  /** Loads the library if this class loader has not yet; throws one clear error otherwise. */
  public static synchronized void load() {
    if (loaded != null) {
      return;
    }
    List<String> failures = new ArrayList<>();
    String libraryFile = System.mapLibraryName(NAME);
    Path onLibraryPath = findOnLibraryPath(libraryFile);
    String libraryPathSource =
        onLibraryPath != null ? onLibraryPath.toString() : "java.library.path";

    // 1. A library on java.library.path, in place.
    boolean libraryPathHeldElsewhere = false;
    String libraryPathError = null;
    try {
      System.loadLibrary(NAME);
      done(new LoadedLibrary(Way.LIBRARY_PATH, libraryPathSource, libraryPathSource), null);
      if (System.getProperty(LIBRARY_PROPERTY) != null) {
        LOG.warn(
            "promsink: -D{}={} is not used: the library on java.library.path comes first",
            LIBRARY_PROPERTY,
            System.getProperty(LIBRARY_PROPERTY));
      }
      return;
    } catch (UnsatisfiedLinkError e) {
      if (isNotFound(e)) {
        LOG.debug("promsink: no {} on java.library.path ({})", libraryFile, e.getMessage());
      } else {
        libraryPathHeldElsewhere = isHeldByAnotherClassLoader(e);
        if (!libraryPathHeldElsewhere) {
          libraryPathError = e.getMessage();
        }
      }
      failures.add("System.loadLibrary(\"" + NAME + "\"): " + e.getMessage());
    }

    // 2. The override, in place; a private copy of it if another class loader holds the file.
    String override = System.getProperty(LIBRARY_PROPERTY);
    if (override != null) {
      String way = LIBRARY_PROPERTY + "=" + override;
      Path file = Paths.get(override).toAbsolutePath();
      try {
        System.load(file.toString());
        done(new LoadedLibrary(Way.OVERRIDE, file.toString(), file.toString()), libraryPathError);
        return;
      } catch (UnsatisfiedLinkError e) {
        if (!isHeldByAnotherClassLoader(e)) {
          failures.add(way + ": " + e.getMessage());
          failures.add("the jar's library: not tried, as " + LIBRARY_PROPERTY + " is set");
          throw error(failures);
        }
        failures.add(way + ": " + e.getMessage());
      }
      try (InputStream in = Files.newInputStream(file)) {
        Path copy = loadPrivateCopy(in);
        done(
            new LoadedLibrary(Way.OVERRIDE_COPY, file.toString(), copy.toString()),
            libraryPathError);
        return;
      } catch (IOException | UnsatisfiedLinkError e) {
        failures.add("a private copy of " + file + ": " + e.getMessage());
        failures.add("the jar's library: not tried, as " + LIBRARY_PROPERTY + " is set");
        throw error(failures);
      }
    }
    failures.add(LIBRARY_PROPERTY + ": not set");

    // 3. A private copy of the jar's library.
    String resource = "/native/" + platform() + "/" + libraryFile;
    InputStream bundled = NativeLibraryLoader.class.getResourceAsStream(resource);
    if (bundled != null) {
      try (InputStream in = bundled) {
        Path copy = loadPrivateCopy(in);
        done(
            new LoadedLibrary(Way.BUNDLED_COPY, "jar resource " + resource, copy.toString()),
            libraryPathError);
        return;
      } catch (IOException | UnsatisfiedLinkError e) {
        failures.add("a private copy of the jar resource " + resource + ": " + e.getMessage());
        throw error(failures);
      }
    }
    failures.add(
        "the jar resource "
            + resource
            + ": this jar has no native library for this platform (it holds "
            + bundledPlatforms()
            + ")");

    // 4. No jar library for this platform, and another class loader holds the file on
    // java.library.path: a private copy of that file.
    if (libraryPathHeldElsewhere && onLibraryPath != null) {
      try (InputStream in = Files.newInputStream(onLibraryPath)) {
        Path copy = loadPrivateCopy(in);
        done(
            new LoadedLibrary(Way.LIBRARY_PATH_COPY, onLibraryPath.toString(), copy.toString()),
            libraryPathError);
        return;
      } catch (IOException | UnsatisfiedLinkError e) {
        failures.add("a private copy of " + onLibraryPath + ": " + e.getMessage());
      }
    }
    throw error(failures);
  }

  /** How and where this class loader loaded the library; empty before {@link #load()} worked. */
  public static synchronized Optional<LoadedLibrary> loadedLibrary() {
    return Optional.ofNullable(loaded);
  }

  private static void done(LoadedLibrary library, String libraryPathError) {
    loaded = library;
    if (libraryPathError != null) {
      LOG.warn(
          "promsink: the {} on java.library.path did not load ({}); using another way instead",
          System.mapLibraryName(NAME),
          libraryPathError);
    }
    LOG.info("promsink: native library loaded: {}", library);
  }

  private static UnsatisfiedLinkError error(List<String> failures) {
    StringBuilder message =
        new StringBuilder("promsink: cannot load the native library for platform ")
            .append(platform())
            .append("; tried, in order:");
    for (int i = 0; i < failures.size(); i++) {
      message.append(' ').append(i + 1).append(") ").append(failures.get(i)).append(';');
    }
    message
        .append(" put a ")
        .append(System.mapLibraryName(NAME))
        .append(" built with cargo for this platform on java.library.path or set -D")
        .append(LIBRARY_PROPERTY)
        .append("=/path/to/")
        .append(System.mapLibraryName(NAME));
    return new UnsatisfiedLinkError(message.toString());
  }

  /** The JVM's message when no directory of the search path holds the library. */
  private static boolean isNotFound(UnsatisfiedLinkError e) {
    String message = e.getMessage();
    return message != null && message.startsWith("no " + NAME + " in ");
  }

  /** The JVM's message when a class loader other than this one has loaded the same file. */
  private static boolean isHeldByAnotherClassLoader(UnsatisfiedLinkError e) {
    String message = e.getMessage();
    return message != null && message.contains("in another classloader");
  }

  /**
   * The file {@code System.loadLibrary} would find, searched as the JVM does (boot library path,
   * then {@code java.library.path}); null if none. Used to report the source and for a copy.
   */
  private static Path findOnLibraryPath(String libraryFile) {
    for (String property : new String[] {"sun.boot.library.path", "java.library.path"}) {
      String value = System.getProperty(property, "");
      for (String directory : value.split(java.io.File.pathSeparator)) {
        if (directory.isEmpty()) {
          continue;
        }
        try {
          Path candidate = Paths.get(directory, libraryFile).toAbsolutePath();
          if (Files.isRegularFile(candidate)) {
            return candidate;
          }
        } catch (RuntimeException e) {
          // an unusable entry (bad path syntax): the JVM skips it too
        }
      }
    }
    return null;
  }

  /** Copies the library into a private folder, loads it and removes the copy and the folder. */
  private static Path loadPrivateCopy(InputStream in) throws IOException {
    Path file = privateCopy(in);
    try {
      System.load(file.toString());
    } finally {
      deletePrivateCopy(file);
    }
    return file;
  }

  /**
   * Writes {@code in} to {@code libpromsink.so} in a new folder of {@code java.io.tmpdir} with a
   * random name; on a POSIX file system the folder is created {@code rwx------} and the file {@code
   * rwx------} (never readable or writable by others, not even for a moment). Both are registered
   * for deletion on exit, in case {@link #deletePrivateCopy} cannot remove them.
   */
  static Path privateCopy(InputStream in) throws IOException {
    boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    FileAttribute<?>[] ownerOnly =
        posix
            ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)}
            : new FileAttribute<?>[0];
    Path folder = Files.createTempDirectory(FOLDER_PREFIX, ownerOnly);
    deleteOnExit(folder); // registered first, so deleted after the file
    Path file = folder.resolve(System.mapLibraryName(NAME));
    deleteOnExit(file);
    try (OutputStream out =
        Channels.newOutputStream(
            Files.newByteChannel(
                file,
                EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                ownerOnly))) {
      in.transferTo(out);
    } catch (IOException | RuntimeException e) {
      deletePrivateCopy(file);
      throw e;
    }
    return file;
  }

  /** Removes a copy made by {@link #privateCopy} and its folder; best effort. */
  static void deletePrivateCopy(Path file) {
    for (Path path : new Path[] {file, file.getParent()}) {
      try {
        Files.deleteIfExists(path);
      } catch (IOException e) {
        LOG.debug("promsink: cannot delete {} now, left to deletion on exit", path, e);
      }
    }
  }

  private static void deleteOnExit(Path path) {
    try {
      path.toFile().deleteOnExit();
    } catch (IllegalStateException e) {
      // the JVM is shutting down; the copy is deleted right after loading anyway
    }
  }

  /**
   * The platforms of {@link #PLATFORMS} whose library this jar (or classes folder) holds, e.g.
   * {@code "linux-x86_64, linux-aarch64"}, or {@code "none"}.
   */
  static String bundledPlatforms() {
    List<String> held = new ArrayList<>();
    for (String platform : PLATFORMS) {
      String resource = "/native/" + platform + "/" + System.mapLibraryName(NAME);
      if (NativeLibraryLoader.class.getResource(resource) != null) {
        held.add(platform);
      }
    }
    return held.isEmpty() ? "none" : String.join(", ", held);
  }

  /** {@code <os>-<arch>} of this JVM, e.g. {@code linux-x86_64}. */
  static String platform() {
    return platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
  }

  /**
   * {@code <os>-<arch>} for these values of {@code os.name} and {@code os.arch}: the folder under
   * {@code native/} the jar's library for that platform is in. Both names of an architecture map to
   * one folder ({@code amd64}, as Linux JVMs say, and {@code x86_64} to {@code x86_64}; {@code
   * aarch64}, as Linux JVMs say, and {@code arm64} to {@code aarch64}); others are kept as they
   * are.
   */
  static String platform(String osProperty, String archProperty) {
    String os = osProperty.toLowerCase(Locale.ROOT);
    String arch = archProperty.toLowerCase(Locale.ROOT);
    String osName =
        os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.replace(' ', '_');
    String archName =
        arch.equals("amd64") || arch.equals("x86_64")
            ? "x86_64"
            : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
    return osName + "-" + archName;
  }
}
