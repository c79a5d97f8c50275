package dev.promsink.flink.testing;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;

/** Collects the log lines of one logger at WARN and above while open. */
public final class LogCapture implements AutoCloseable {
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final AbstractAppender appender;
  private final String loggerName;

  /** Captures the WARN and ERROR lines of {@code logger}. */
  public LogCapture(Class<?> logger) {
    this(logger, Level.WARN);
  }

  /** Captures the lines of every logger at {@code least} or more severe. */
  public static LogCapture everything(Level least) {
    return new LogCapture(null, least);
  }

  /**
   * Captures the lines of {@code logger} (every logger if null) at {@code least} or more severe.
   */
  public LogCapture(Class<?> logger, Level least) {
    this.loggerName = logger == null ? null : logger.getName();
    appender =
        new AbstractAppender(
            "capture-" + loggerName + "-" + System.nanoTime(),
            null,
            null,
            true,
            Property.EMPTY_ARRAY) {
          @Override
          public void append(LogEvent event) {
            if (event.getLevel().isMoreSpecificThan(least)
                && (loggerName == null || event.getLoggerName().equals(loggerName))) {
              String line = event.getLevel() + " " + event.getMessage().getFormattedMessage();
              if (event.getThrown() != null) {
                StringWriter trace = new StringWriter();
                event.getThrown().printStackTrace(new PrintWriter(trace));
                line += "\n" + trace;
              }
              lines.add(line);
            }
          }
        };
    appender.start();
    LoggerContext context = (LoggerContext) LogManager.getContext(false);
    context.getConfiguration().getRootLogger().addAppender(appender, least, null);
    context.updateLoggers();
  }

  /** The lines captured so far that contain {@code text}. */
  public List<String> linesContaining(String text) {
    return lines.stream().filter(l -> l.contains(text)).collect(Collectors.toList());
  }

  public List<String> lines() {
    return List.copyOf(lines);
  }

  @Override
  public void close() {
    LoggerContext context = (LoggerContext) LogManager.getContext(false);
    context.getConfiguration().getRootLogger().removeAppender(appender.getName());
    context.updateLoggers();
    appender.stop();
  }
}
