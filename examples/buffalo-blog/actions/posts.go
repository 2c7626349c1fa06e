package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/example/buffalo-blog/models"
	"github.com/gobuffalo/buffalo"
	"github.com/gobuffalo/pop/v6"
)

const uploadDir = "public/uploads"

var errSpam = errors.New("comment looks like spam")

// PostsIndex lists the published posts, newest first.
func PostsIndex(c buffalo.Context) error {
	tx, ok := c.Value("tx").(*pop.Connection)
	if !ok {
		return errors.New("no transaction found")
	}
	posts := models.Posts{}
	q := tx.PaginateFromParams(c.Params())
	if err := q.Where("published_at IS NOT NULL").Order("published_at desc").All(&posts); err != nil {
		return err
	}
	c.Set("posts", posts)
	c.Set("pagination", q.Paginator)
	return c.Render(http.StatusOK, r.HTML("posts/index.plush.html"))
}

// PostsShow shows one post and its comments.
func PostsShow(c buffalo.Context) error {
	tx := c.Value("tx").(*pop.Connection)
	post := models.Post{}
	if err := tx.Where("slug = ?", c.Param("slug")).First(&post); err != nil {
		return c.Error(http.StatusNotFound, err)
	}
	comments := []models.Comment{}
	if err := tx.Where("post_id = ?", post.ID).Order("created_at").All(&comments); err != nil {
		return err
	}
	c.Set("post", post)
	c.Set("comments", comments)
	return c.Render(http.StatusOK, r.HTML("posts/show.plush.html"))
}

// PostsCreate saves a new post.
func PostsCreate(c buffalo.Context) error {
	post := &models.Post{}
	if err := c.Bind(post); err != nil {
		return err
	}
	tx := c.Value("tx").(*pop.Connection)
	verrs, err := tx.ValidateAndCreate(post)
	if err != nil {
		return err
	}
	if verrs.HasAny() {
		c.Set("errors", verrs)
		return c.Render(http.StatusUnprocessableEntity, r.HTML("posts/new.plush.html"))
	}
	// Leak: c is the request's context, session and logger; the goroutine keeps using it after
	// the response is sent, when the request has been torn down and its context cancelled.
	go func() {
		c.Logger().Infof("post %s created by %v", post.Slug, c.Session().Get("current_user_id"))
		pingSearchEngines(c, post.Slug)
	}()
	return c.Redirect(http.StatusSeeOther, "/posts/%s", post.Slug)
}

// PostsUploadImages stores the images attached to a post.
func PostsUploadImages(c buffalo.Context) error {
	req := c.Request()
	if err := req.ParseMultipartForm(16 << 20); err != nil {
		return c.Error(http.StatusBadRequest, err)
	}
	tx := c.Value("tx").(*pop.Connection)
	post := models.Post{}
	if err := tx.Where("slug = ?", c.Param("slug")).First(&post); err != nil {
		return c.Error(http.StatusNotFound, err)
	}
	var saved []string
	for _, fh := range req.MultipartForm.File["images"] {
		src, err := fh.Open()
		if err != nil {
			return err
		}
		// Leak: deferred in a loop, every upload stays open until the last image is written.
		defer src.Close()

		name := post.ID.String() + "-" + filepath.Base(fh.Filename)
		// Leak: a failed copy returns before dst.Close, leaving the file descriptor open.
		dst, err := os.Create(filepath.Join(uploadDir, name))
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			return err
		}
		if err := dst.Close(); err != nil {
			return err
		}
		saved = append(saved, "/uploads/"+name)
	}
	return c.Render(http.StatusCreated, r.JSON(map[string][]string{"images": saved}))
}

// CommentsCreate adds a comment to a post after a spam check.
func CommentsCreate(c buffalo.Context) error {
	comment := &models.Comment{}
	if err := c.Bind(comment); err != nil {
		return err
	}
	// Leak: cancel is not called when the comment is rejected as spam.
	ctx, cancel := context.WithTimeout(c, 2*time.Second)
	spam, err := checkSpam(ctx, comment.Body)
	if err != nil {
		c.Logger().Warnf("spam check failed, accepting: %v", err)
	}
	if spam {
		return c.Error(http.StatusUnprocessableEntity, errSpam)
	}
	cancel()

	tx := c.Value("tx").(*pop.Connection)
	post := models.Post{}
	if err := tx.Where("slug = ?", c.Param("slug")).First(&post); err != nil {
		return c.Error(http.StatusNotFound, err)
	}
	comment.PostID = post.ID
	if err := tx.Create(comment); err != nil {
		return err
	}
	// Only plain values go to the goroutine, never c itself.
	logger, author, slug := c.Logger(), comment.Author, post.Slug
	go func() {
		logger.Infof("new comment by %s on %s", author, slug)
	}()
	return c.Redirect(http.StatusSeeOther, "/posts/%s", post.Slug)
}

var (
	previewMu    sync.Mutex
	previewCache = map[string]string{}
)

// LinkPreview returns the title of the page at ?url=, for the editor's link cards.
func LinkPreview(c buffalo.Context) error {
	url := c.Param("url")
	if !strings.HasPrefix(url, "https://") {
		return c.Error(http.StatusBadRequest, errors.New("only https links"))
	}
	previewMu.Lock()
	title, ok := previewCache[url]
	previewMu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(c, 3*time.Second)
		defer cancel()
		var err error
		if title, err = fetchTitle(ctx, url); err != nil {
			return c.Error(http.StatusBadGateway, err)
		}
		previewMu.Lock()
		// Leak: every distinct URL anyone asks for is cached for ever; nothing evicts entries.
		previewCache[url] = title
		previewMu.Unlock()
	}
	return c.Render(http.StatusOK, r.JSON(map[string]string{"title": title}))
}

func fetchTitle(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	// Leak: a page that is not HTML returns without closing the body.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return "", fmt.Errorf("%s is not an HTML page", url)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, 128<<10))
	if err != nil {
		return "", err
	}
	s := string(page)
	start, end := strings.Index(s, "<title>"), strings.Index(s, "</title>")
	if start < 0 || end < start {
		return url, nil
	}
	return strings.TrimSpace(s[start+len("<title>") : end]), nil
}

func checkSpam(ctx context.Context, text string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://spamcheck.example.com/v1/score",
		strings.NewReader(text))
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var score struct {
		Spam bool `json:"spam"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&score); err != nil {
		return false, err
	}
	return score.Spam, nil
}

func pingSearchEngines(ctx context.Context, slug string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"https://www.google.com/ping?sitemap=https://blog.example.com/sitemap.xml&updated="+slug, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	resp.Body.Close()
}
