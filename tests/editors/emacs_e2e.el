;;; emacs_e2e.el --- End-to-end test of editors/emacs/golsp-leaks.el in batch Emacs  -*- lexical-binding: t; -*-

;; emacs --batch -Q -l tests/editors/emacs_e2e.el
;;
;; Environment: GOLSP_LEAKS_EL (folder of golsp-leaks.el), ELPA_DIR (folder of the elpa-*
;; packages), GO_FILE (Go file with one lost-cancel leak at LEAK_LINE:LEAK_COLUMN), FIXED_FILE
;; (what it must become), FIX_TITLE, SERVER_CMD and FAKE_GOPLS_CMD (JSON arrays), RASS (the rass
;; executable), RESULT (JSON result file), E2E_MODE: "eglot" (golsp-leaks alone), "eglot-rass"
;; (rass -- gopls -- golsp-leaks serve) or "lsp-mode" (golsp-leaks as an add-on next to gopls).

;;; Code:

(require 'cl-lib)
(require 'json)
(require 'subr-x)

(defvar e2e-result (list (cons 'ok :json-false) (cons 'steps nil)))
(defvar e2e-start (float-time))
(defvar e2e-mode (getenv "E2E_MODE"))

(defun e2e-set (key value)
  (setf (alist-get key e2e-result) value))

(defun e2e-step (name &optional detail)
  (let ((ms (round (* 1000 (- (float-time) e2e-start)))))
    (push (list (cons 'name name) (cons 'ms ms) (cons 'detail (or detail ""))) (alist-get 'steps e2e-result))
    (princ (format "emacs-e2e[%s]: %d ms %s%s\n" e2e-mode ms name (if detail (concat ": " detail) ""))
           #'external-debugging-output)))

(defun e2e-finish (code)
  (e2e-set 'total_ms (round (* 1000 (- (float-time) e2e-start))))
  (setf (alist-get 'steps e2e-result) (vconcat (reverse (alist-get 'steps e2e-result))))
  (with-temp-file (getenv "RESULT")
    (insert (json-encode e2e-result)))
  (kill-emacs code))

(defun e2e-idle ()
  "Run the idle timers, as Emacs does when the user stops typing.
Batch Emacs never becomes idle, and eglot sends its didChange and flymake
starts its checks from idle timers."
  (dolist (timer (copy-sequence timer-idle-list))
    (when (memq timer timer-idle-list)
      (timer-event-handler timer))))

(defun e2e-wait (what timeout pred)
  "Wait up to TIMEOUT seconds for PRED, processing events; fail naming WHAT."
  (let ((deadline (+ (float-time) timeout))
        (value nil))
    (while (and (not (setq value (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05)
      (e2e-idle)
      (sit-for 0.01))
    (or value (error "Timed out after %ss waiting for %s" timeout what))))

(defun e2e-read (file)
  (with-temp-buffer
    (insert-file-contents file)
    (buffer-string)))

(defun e2e-buffer-text ()
  (save-restriction (widen) (buffer-substring-no-properties (point-min) (point-max))))

(defun e2e-goto (line column)
  (goto-char (point-min))
  (forward-line (1- line))
  (forward-char (1- column)))

;;;; Load path: the Debian elpa packages (emacs -Q skips site-start), and the package under test.

(dolist (dir (directory-files (getenv "ELPA_DIR") t "^[^.]"))
  (when (file-directory-p dir)
    (add-to-list 'load-path dir)))
(add-to-list 'load-path (getenv "GOLSP_LEAKS_EL"))

(defvar e2e-root (file-name-directory (getenv "GO_FILE")))
;; A project for project.el without version control: the Go module's folder.
(with-eval-after-load 'project
  (add-hook 'project-find-functions (lambda (_dir) (cons 'transient e2e-root))))

(setq make-backup-files nil
      auto-save-default nil
      create-lockfiles nil
      inhibit-message nil
      flymake-no-changes-timeout 0.1)

(defvar e2e-fixed (e2e-read (getenv "FIXED_FILE")))
(defvar e2e-original (e2e-read (getenv "GO_FILE")))
(defvar e2e-fix-title (getenv "FIX_TITLE"))
(defvar e2e-line (string-to-number (getenv "LEAK_LINE")))
(defvar e2e-column (string-to-number (getenv "LEAK_COLUMN")))
(defvar e2e-server-cmd (append (json-read-from-string (getenv "SERVER_CMD")) nil))
(defvar e2e-fake-gopls (append (json-read-from-string (getenv "FAKE_GOPLS_CMD")) nil))

;; The settings under test: lost-cancel reported as an error.
(setq golsp-leaks-command e2e-server-cmd
      golsp-leaks-severity '(("lost-cancel" . "error"))
      golsp-leaks-debounce-ms 50)

;;;; eglot

(defun e2e-flymake-diags (&optional regexp)
  "This buffer's flymake diagnostics whose text matches REGEXP."
  (cl-remove-if-not (lambda (d) (or (null regexp) (string-match-p regexp (flymake-diagnostic-text d))))
                    (flymake-diagnostics)))

(defun e2e-eglot ()
  (require 'go-mode)
  (require 'eglot)
  (require 'golsp-leaks)
  (e2e-set 'eglot_entry (format "%S" (assoc '(go-mode go-ts-mode) eglot-server-programs)))
  (when (equal e2e-mode "eglot-rass")
    (setq golsp-leaks-eglot-with-gopls 'rass
          golsp-leaks-rass-command (list (getenv "RASS"))
          golsp-leaks-gopls-command e2e-fake-gopls))
  (find-file (getenv "GO_FILE"))
  (e2e-set 'major_mode (symbol-name major-mode))
  (let ((guess (eglot--guess-contact)))
    (e2e-set 'contact (format "%S" (nth 3 guess)))
    (apply #'eglot guess))
  (e2e-wait "eglot to connect" 30 (lambda () (and (eglot-current-server) (eglot--managed-mode))))
  (e2e-set 'server_command (format "%S" (process-command (jsonrpc--process (eglot-current-server)))))
  (e2e-step "eglot connected" (cdr (assoc 'server_command e2e-result)))
  (e2e-set 'workspace_configuration (json-encode (eglot--workspace-configuration-plist (eglot-current-server))))

  ;; Diagnostics through flymake, with the configured severity.
  (e2e-wait "the lost-cancel diagnostic" 30 (lambda () (e2e-flymake-diags "lost-cancel")))
  (let ((d (car (e2e-flymake-diags "lost-cancel"))))
    (e2e-set 'diagnostic (flymake-diagnostic-text d))
    (e2e-set 'diagnostic_type (symbol-name (flymake-diagnostic-type d)))
    (e2e-set 'diagnostic_line (line-number-at-pos (flymake-diagnostic-beg d)))
    (unless (eq (flymake-diagnostic-type d) 'eglot-error)
      (error "The severity setting did not reach the server: %S" (flymake-diagnostic-type d))))
  (when (equal e2e-mode "eglot-rass")
    (e2e-wait "gopls's diagnostic too" 20 (lambda () (e2e-flymake-diags "fake gopls was here")))
    (e2e-set 'gopls_diagnostic (flymake-diagnostic-text (car (e2e-flymake-diags "fake gopls was here")))))
  (e2e-step "diagnostic" (cdr (assoc 'diagnostic e2e-result)))

  ;; The quick fix, as a user picks it in M-x eglot-code-actions.
  (e2e-goto e2e-line e2e-column)
  (let ((offered nil)
        (last-nonmenu-event 13))        ; a key press, not a mouse click: completing-read
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                 (or (car (member e2e-fix-title offered))
                     (error "No %S among the code actions %S" e2e-fix-title offered)))))
      (call-interactively #'eglot-code-actions))
    (e2e-set 'offered (vconcat offered)))
  (e2e-wait "the fix in the buffer" 10 (lambda () (equal (e2e-buffer-text) e2e-fixed)))
  (e2e-step "quick fix applied")
  (e2e-wait "the diagnostic to go" 15 (lambda () (null (e2e-flymake-diags "lost-cancel"))))
  (e2e-step "diagnostic gone")

  (unless (equal e2e-mode "eglot-rass")
    ;; The leaky text again: back as an error; a live settings change makes it a warning.
    (erase-buffer)
    (insert e2e-original)
    (e2e-wait "the diagnostic after undo" 15
              (lambda () (cl-find 'eglot-error (e2e-flymake-diags "lost-cancel") :key #'flymake-diagnostic-type)))
    (customize-set-variable 'golsp-leaks-severity '(("lost-cancel" . "warning")))
    (e2e-wait "the severity to change live" 15
              (lambda () (cl-find 'eglot-warning (e2e-flymake-diags "lost-cancel") :key #'flymake-diagnostic-type)))
    (e2e-step "golsp-leaks-severity changed live: now a warning")
    (golsp-leaks-fix-all)
    (e2e-wait "fix all in the buffer" 10 (lambda () (equal (e2e-buffer-text) e2e-fixed)))
    (e2e-wait "the diagnostic to go after fix all" 15 (lambda () (null (e2e-flymake-diags "lost-cancel"))))
    (e2e-step "golsp-leaks-fix-all"))

  (save-buffer)
  (e2e-set 'file_after (e2e-read (getenv "GO_FILE")))
  (unless (equal (cdr (assoc 'file_after e2e-result)) e2e-fixed)
    (error "The file on disk is not the fixed one"))
  (eglot-shutdown (eglot-current-server) nil 5))

;;;; lsp-mode

(defvar lsp-client-packages)
(defun e2e-lsp ()
  (setq lsp-client-packages nil         ; no built-in clients (the real gopls one among them)
        lsp-session-file (expand-file-name "lsp-session" (getenv "E2E_TMP"))
        lsp-server-install-dir (expand-file-name "lsp-servers" (getenv "E2E_TMP"))
        lsp-auto-guess-root t
        lsp-guess-root-without-session t
        lsp-restart 'ignore
        lsp-keep-workspace-alive nil
        lsp-enable-file-watchers nil
        lsp-enable-snippet nil
        lsp-headerline-breadcrumb-enable nil
        lsp-modeline-code-actions-enable nil
        lsp-modeline-diagnostics-enable nil
        lsp-lens-enable nil
        lsp-diagnostics-provider :none
        lsp-log-io nil
        lsp-debounce-full-sync-notifications-interval 0.05)
  (require 'go-mode)
  (require 'lsp-mode)
  (require 'golsp-leaks)
  ;; gopls as lsp-mode's main client for Go (a stand-in: gopls cannot be installed here).
  (lsp-register-client
   (make-lsp-client :new-connection (lsp-stdio-connection e2e-fake-gopls)
                    :major-modes '(go-mode)
                    :priority 0
                    :server-id 'gopls))
  (e2e-set 'add_on (if (lsp--client-add-on? (gethash 'golsp-leaks lsp-clients)) t :json-false))
  (find-file (getenv "GO_FILE"))
  (lsp-workspace-folders-add e2e-root)
  (lsp)
  (e2e-wait "both servers" 30
            (lambda () (and (= (length (lsp-workspaces)) 2)
                            (cl-every (lambda (w) (eq (lsp--workspace-status w) 'initialized)) (lsp-workspaces)))))
  (e2e-set 'servers (vconcat (mapcar (lambda (w) (symbol-name (lsp--client-server-id (lsp--workspace-client w))))
                                     (lsp-workspaces))))
  (e2e-step "lsp-mode started gopls and golsp-leaks" (format "%S" (cdr (assoc 'servers e2e-result))))

  (let ((file (lsp--fix-path-casing (buffer-file-name))))
    (cl-flet ((ours () (cl-remove-if-not (lambda (d) (equal (lsp:diagnostic-source? d) "golsp-leaks"))
                                         (gethash file (lsp-diagnostics t)))))
      (e2e-wait "the lost-cancel diagnostic" 30 (lambda () (ours)))
      (let ((d (car (ours))))
        (e2e-set 'diagnostic (lsp:diagnostic-message d))
        (e2e-set 'diagnostic_code (lsp:diagnostic-code? d))
        (e2e-set 'diagnostic_severity (lsp:diagnostic-severity? d))
        (unless (eql (lsp:diagnostic-severity? d) 1)
          (error "The severity setting did not reach the server: %S" (lsp:diagnostic-severity? d))))
      (e2e-wait "gopls's diagnostic" 20
                (lambda () (cl-find "gopls" (gethash file (lsp-diagnostics t)) :key #'lsp:diagnostic-source? :test #'equal)))
      (e2e-step "diagnostics from both servers")

      ;; A live settings change (Customize): now a warning.
      (customize-set-variable 'golsp-leaks-severity '(("lost-cancel" . "warning")))
      (e2e-wait "the severity to change live" 15
                (lambda () (cl-find 2 (ours) :key #'lsp:diagnostic-severity?)))
      (e2e-set 'live_severity 2)
      (e2e-step "golsp-leaks-severity changed live: now a warning")

      (e2e-goto e2e-line e2e-column)
      (let* ((actions (lsp-code-actions-at-point))
             (titles (mapcar #'lsp:code-action-title actions))
             (fix (cl-find e2e-fix-title actions :key #'lsp:code-action-title :test #'equal)))
        (e2e-set 'offered (vconcat titles))
        (unless fix (error "No %S among the code actions %S" e2e-fix-title titles))
        (lsp-execute-code-action fix))
      (e2e-wait "the fix in the buffer" 10 (lambda () (equal (e2e-buffer-text) e2e-fixed)))
      (e2e-step "quick fix applied (lsp-execute-code-action)")
      (e2e-wait "the diagnostic to go" 15 (lambda () (null (ours))))
      (e2e-step "diagnostic gone")))
  (save-buffer)
  (e2e-set 'file_after (e2e-read (getenv "GO_FILE")))
  (lsp-workspace-shutdown (car (lsp-workspaces))))

;;;; Run

(condition-case err
    (progn
      (pcase e2e-mode
        ((or "eglot" "eglot-rass") (e2e-eglot))
        ("lsp-mode" (e2e-lsp))
        (_ (error "Unknown E2E_MODE %S" e2e-mode)))
      (e2e-set 'ok t)
      (e2e-finish 0))
  (error
   (e2e-set 'error (error-message-string err))
   (when (getenv "E2E_EVENTS")
     (dolist (b (buffer-list))
       (when (string-match-p "events" (buffer-name b))
         (with-current-buffer b
           (write-region (point-min) (point-max) (getenv "E2E_EVENTS") t)))))
   (princ (format "emacs-e2e[%s]: FAILED: %s\n" e2e-mode (error-message-string err)) #'external-debugging-output)
   (e2e-finish 1)))

;;; emacs_e2e.el ends here
